//! Free-text country names to ISO 3166-1 alpha-2 codes, for the `country_code` transform.
//!
//! A compact built-in table (ISO 3166-1 English short names, alpha-2 and alpha-3 codes, plus
//! the aliases CRM data actually carries: "USA", "UK", "Korea", "Russian Federation",
//! "Palestinian Territory", "Libyan Arab Jamahiriya", "Swaziland", …) instead of a crate:
//! the published crates match official names exactly, while admin-entered data needs folding
//! rules (case, accents, punctuation, `&`, `St.`, a leading "The", parenthetical qualifiers such
//! as "Slovakia (Slovak Republic)") that are easier to own here, and the table needs no
//! dependency or network update. ISO 3166-1 changes a few times per decade; edit [`COUNTRIES`].
//!
//! Ambiguities are resolved the way CRM exports mean them: "Korea" is South Korea (KR),
//! "Congo" is the Republic of the Congo (CG), "Macedonia" is North Macedonia (MK).
//! Withdrawn codes ("Netherlands Antilles", AN) are unknown on purpose.

use std::collections::HashMap;
use std::sync::LazyLock;

/// One ISO 3166-1 entry: alpha-2, alpha-3, English short name, extra aliases.
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// ISO 3166-1 (249 entries) with aliases.
const COUNTRIES: &[Entry] = &[
    ("AD", "AND", "Andorra", &[]),
    ("AE", "ARE", "United Arab Emirates", &["UAE", "Emirates"]),
    ("AF", "AFG", "Afghanistan", &[]),
    ("AG", "ATG", "Antigua and Barbuda", &["Antigua"]),
    ("AI", "AIA", "Anguilla", &[]),
    ("AL", "ALB", "Albania", &[]),
    ("AM", "ARM", "Armenia", &[]),
    ("AO", "AGO", "Angola", &[]),
    ("AQ", "ATA", "Antarctica", &[]),
    ("AR", "ARG", "Argentina", &[]),
    ("AS", "ASM", "American Samoa", &[]),
    ("AT", "AUT", "Austria", &["Österreich"]),
    ("AU", "AUS", "Australia", &[]),
    ("AW", "ABW", "Aruba", &[]),
    ("AX", "ALA", "Åland Islands", &["Aland"]),
    ("AZ", "AZE", "Azerbaijan", &[]),
    (
        "BA",
        "BIH",
        "Bosnia and Herzegovina",
        &["Bosnia", "Bosnia-Herzegovina"],
    ),
    ("BB", "BRB", "Barbados", &[]),
    ("BD", "BGD", "Bangladesh", &[]),
    ("BE", "BEL", "Belgium", &["België", "Belgique"]),
    ("BF", "BFA", "Burkina Faso", &[]),
    ("BG", "BGR", "Bulgaria", &[]),
    ("BH", "BHR", "Bahrain", &[]),
    ("BI", "BDI", "Burundi", &[]),
    ("BJ", "BEN", "Benin", &[]),
    (
        "BL",
        "BLM",
        "Saint Barthélemy",
        &["Saint Barts", "St Barts"],
    ),
    ("BM", "BMU", "Bermuda", &[]),
    ("BN", "BRN", "Brunei Darussalam", &["Brunei"]),
    (
        "BO",
        "BOL",
        "Bolivia",
        &[
            "Plurinational State of Bolivia",
            "Bolivia, Plurinational State of",
        ],
    ),
    (
        "BQ",
        "BES",
        "Bonaire, Sint Eustatius and Saba",
        &["Caribbean Netherlands", "Bonaire"],
    ),
    ("BR", "BRA", "Brazil", &["Brasil"]),
    ("BS", "BHS", "Bahamas", &[]),
    ("BT", "BTN", "Bhutan", &[]),
    ("BV", "BVT", "Bouvet Island", &["Bouvetoya"]),
    ("BW", "BWA", "Botswana", &[]),
    ("BY", "BLR", "Belarus", &[]),
    ("BZ", "BLZ", "Belize", &[]),
    ("CA", "CAN", "Canada", &[]),
    (
        "CC",
        "CCK",
        "Cocos (Keeling) Islands",
        &["Cocos Islands", "Keeling Islands"],
    ),
    (
        "CD",
        "COD",
        "Democratic Republic of the Congo",
        &[
            "Congo, Democratic Republic of the",
            "Congo, The Democratic Republic of the",
            "DR Congo",
            "DRC",
            "Congo-Kinshasa",
            "Zaire",
        ],
    ),
    ("CF", "CAF", "Central African Republic", &[]),
    (
        "CG",
        "COG",
        "Congo",
        &[
            "Republic of the Congo",
            "Congo-Brazzaville",
            "Congo Republic",
        ],
    ),
    (
        "CH",
        "CHE",
        "Switzerland",
        &["Schweiz", "Suisse", "Svizzera"],
    ),
    ("CI", "CIV", "Côte d'Ivoire", &["Ivory Coast"]),
    ("CK", "COK", "Cook Islands", &[]),
    ("CL", "CHL", "Chile", &[]),
    ("CM", "CMR", "Cameroon", &[]),
    (
        "CN",
        "CHN",
        "China",
        &["People's Republic of China", "PRC", "Mainland China"],
    ),
    ("CO", "COL", "Colombia", &[]),
    ("CR", "CRI", "Costa Rica", &[]),
    ("CU", "CUB", "Cuba", &[]),
    ("CV", "CPV", "Cabo Verde", &["Cape Verde"]),
    ("CW", "CUW", "Curaçao", &[]),
    ("CX", "CXR", "Christmas Island", &[]),
    ("CY", "CYP", "Cyprus", &[]),
    ("CZ", "CZE", "Czechia", &["Czech Republic"]),
    ("DE", "DEU", "Germany", &["Deutschland"]),
    ("DJ", "DJI", "Djibouti", &[]),
    ("DK", "DNK", "Denmark", &["Danmark"]),
    ("DM", "DMA", "Dominica", &[]),
    ("DO", "DOM", "Dominican Republic", &[]),
    ("DZ", "DZA", "Algeria", &[]),
    ("EC", "ECU", "Ecuador", &[]),
    ("EE", "EST", "Estonia", &[]),
    ("EG", "EGY", "Egypt", &[]),
    ("EH", "ESH", "Western Sahara", &[]),
    ("ER", "ERI", "Eritrea", &[]),
    ("ES", "ESP", "Spain", &["España"]),
    ("ET", "ETH", "Ethiopia", &[]),
    ("FI", "FIN", "Finland", &["Suomi"]),
    ("FJ", "FJI", "Fiji", &[]),
    (
        "FK",
        "FLK",
        "Falkland Islands",
        &["Falkland Islands (Malvinas)", "Malvinas"],
    ),
    (
        "FM",
        "FSM",
        "Micronesia",
        &[
            "Federated States of Micronesia",
            "Micronesia, Federated States of",
        ],
    ),
    ("FO", "FRO", "Faroe Islands", &["Faeroe Islands"]),
    ("FR", "FRA", "France", &[]),
    ("GA", "GAB", "Gabon", &[]),
    (
        "GB",
        "GBR",
        "United Kingdom",
        &[
            "UK",
            "U.K.",
            "Great Britain",
            "Britain",
            "England",
            "Scotland",
            "Wales",
            "Northern Ireland",
            "United Kingdom of Great Britain and Northern Ireland",
        ],
    ),
    ("GD", "GRD", "Grenada", &[]),
    ("GE", "GEO", "Georgia", &[]),
    ("GF", "GUF", "French Guiana", &[]),
    ("GG", "GGY", "Guernsey", &[]),
    ("GH", "GHA", "Ghana", &[]),
    ("GI", "GIB", "Gibraltar", &[]),
    ("GL", "GRL", "Greenland", &[]),
    ("GM", "GMB", "Gambia", &[]),
    ("GN", "GIN", "Guinea", &[]),
    ("GP", "GLP", "Guadeloupe", &[]),
    ("GQ", "GNQ", "Equatorial Guinea", &[]),
    ("GR", "GRC", "Greece", &[]),
    (
        "GS",
        "SGS",
        "South Georgia and the South Sandwich Islands",
        &[],
    ),
    ("GT", "GTM", "Guatemala", &[]),
    ("GU", "GUM", "Guam", &[]),
    ("GW", "GNB", "Guinea-Bissau", &[]),
    ("GY", "GUY", "Guyana", &[]),
    ("HK", "HKG", "Hong Kong", &[]),
    ("HM", "HMD", "Heard Island and McDonald Islands", &[]),
    ("HN", "HND", "Honduras", &[]),
    ("HR", "HRV", "Croatia", &["Hrvatska"]),
    ("HT", "HTI", "Haiti", &[]),
    ("HU", "HUN", "Hungary", &[]),
    ("ID", "IDN", "Indonesia", &[]),
    ("IE", "IRL", "Ireland", &["Republic of Ireland", "Eire"]),
    ("IL", "ISR", "Israel", &[]),
    ("IM", "IMN", "Isle of Man", &[]),
    ("IN", "IND", "India", &[]),
    (
        "IO",
        "IOT",
        "British Indian Ocean Territory",
        &["Chagos Archipelago"],
    ),
    ("IQ", "IRQ", "Iraq", &[]),
    (
        "IR",
        "IRN",
        "Iran",
        &["Islamic Republic of Iran", "Iran, Islamic Republic of"],
    ),
    ("IS", "ISL", "Iceland", &[]),
    ("IT", "ITA", "Italy", &["Italia"]),
    ("JE", "JEY", "Jersey", &[]),
    ("JM", "JAM", "Jamaica", &[]),
    ("JO", "JOR", "Jordan", &[]),
    ("JP", "JPN", "Japan", &[]),
    ("KE", "KEN", "Kenya", &[]),
    ("KG", "KGZ", "Kyrgyzstan", &["Kyrgyz Republic"]),
    ("KH", "KHM", "Cambodia", &[]),
    ("KI", "KIR", "Kiribati", &[]),
    ("KM", "COM", "Comoros", &[]),
    ("KN", "KNA", "Saint Kitts and Nevis", &[]),
    (
        "KP",
        "PRK",
        "North Korea",
        &[
            "Democratic People's Republic of Korea",
            "Korea, Democratic People's Republic of",
            "DPRK",
        ],
    ),
    (
        "KR",
        "KOR",
        "South Korea",
        &["Korea", "Republic of Korea", "Korea, Republic of"],
    ),
    ("KW", "KWT", "Kuwait", &[]),
    ("KY", "CYM", "Cayman Islands", &[]),
    ("KZ", "KAZ", "Kazakhstan", &[]),
    (
        "LA",
        "LAO",
        "Laos",
        &["Lao People's Democratic Republic", "Lao PDR"],
    ),
    ("LB", "LBN", "Lebanon", &[]),
    ("LC", "LCA", "Saint Lucia", &[]),
    ("LI", "LIE", "Liechtenstein", &[]),
    ("LK", "LKA", "Sri Lanka", &[]),
    ("LR", "LBR", "Liberia", &[]),
    ("LS", "LSO", "Lesotho", &[]),
    ("LT", "LTU", "Lithuania", &[]),
    ("LU", "LUX", "Luxembourg", &[]),
    ("LV", "LVA", "Latvia", &[]),
    ("LY", "LBY", "Libya", &["Libyan Arab Jamahiriya"]),
    ("MA", "MAR", "Morocco", &[]),
    ("MC", "MCO", "Monaco", &[]),
    (
        "MD",
        "MDA",
        "Moldova",
        &["Republic of Moldova", "Moldova, Republic of"],
    ),
    ("ME", "MNE", "Montenegro", &[]),
    ("MF", "MAF", "Saint Martin", &["Saint Martin (French part)"]),
    ("MG", "MDG", "Madagascar", &[]),
    ("MH", "MHL", "Marshall Islands", &[]),
    ("MK", "MKD", "North Macedonia", &["Macedonia", "FYROM"]),
    ("ML", "MLI", "Mali", &[]),
    ("MM", "MMR", "Myanmar", &["Burma"]),
    ("MN", "MNG", "Mongolia", &[]),
    ("MO", "MAC", "Macao", &["Macau"]),
    ("MP", "MNP", "Northern Mariana Islands", &[]),
    ("MQ", "MTQ", "Martinique", &[]),
    ("MR", "MRT", "Mauritania", &[]),
    ("MS", "MSR", "Montserrat", &[]),
    ("MT", "MLT", "Malta", &[]),
    ("MU", "MUS", "Mauritius", &[]),
    ("MV", "MDV", "Maldives", &[]),
    ("MW", "MWI", "Malawi", &[]),
    ("MX", "MEX", "Mexico", &["México"]),
    ("MY", "MYS", "Malaysia", &[]),
    ("MZ", "MOZ", "Mozambique", &[]),
    ("NA", "NAM", "Namibia", &[]),
    ("NC", "NCL", "New Caledonia", &[]),
    ("NE", "NER", "Niger", &[]),
    ("NF", "NFK", "Norfolk Island", &[]),
    ("NG", "NGA", "Nigeria", &[]),
    ("NI", "NIC", "Nicaragua", &[]),
    (
        "NL",
        "NLD",
        "Netherlands",
        &["Holland", "Nederland", "Kingdom of the Netherlands"],
    ),
    ("NO", "NOR", "Norway", &["Norge"]),
    ("NP", "NPL", "Nepal", &[]),
    ("NR", "NRU", "Nauru", &[]),
    ("NU", "NIU", "Niue", &[]),
    ("NZ", "NZL", "New Zealand", &["Aotearoa"]),
    ("OM", "OMN", "Oman", &[]),
    ("PA", "PAN", "Panama", &[]),
    ("PE", "PER", "Peru", &[]),
    ("PF", "PYF", "French Polynesia", &[]),
    ("PG", "PNG", "Papua New Guinea", &[]),
    ("PH", "PHL", "Philippines", &[]),
    ("PK", "PAK", "Pakistan", &[]),
    ("PL", "POL", "Poland", &["Polska"]),
    ("PM", "SPM", "Saint Pierre and Miquelon", &[]),
    ("PN", "PCN", "Pitcairn", &["Pitcairn Islands"]),
    ("PR", "PRI", "Puerto Rico", &[]),
    (
        "PS",
        "PSE",
        "Palestine",
        &[
            "State of Palestine",
            "Palestinian Territory",
            "Palestinian Territories",
            "Occupied Palestinian Territory",
        ],
    ),
    ("PT", "PRT", "Portugal", &[]),
    ("PW", "PLW", "Palau", &[]),
    ("PY", "PRY", "Paraguay", &[]),
    ("QA", "QAT", "Qatar", &[]),
    ("RE", "REU", "Réunion", &[]),
    ("RO", "ROU", "Romania", &[]),
    ("RS", "SRB", "Serbia", &[]),
    ("RU", "RUS", "Russia", &["Russian Federation"]),
    ("RW", "RWA", "Rwanda", &[]),
    ("SA", "SAU", "Saudi Arabia", &["KSA"]),
    ("SB", "SLB", "Solomon Islands", &[]),
    ("SC", "SYC", "Seychelles", &[]),
    ("SD", "SDN", "Sudan", &[]),
    ("SE", "SWE", "Sweden", &["Sverige"]),
    ("SG", "SGP", "Singapore", &[]),
    (
        "SH",
        "SHN",
        "Saint Helena, Ascension and Tristan da Cunha",
        &["Saint Helena"],
    ),
    ("SI", "SVN", "Slovenia", &[]),
    (
        "SJ",
        "SJM",
        "Svalbard and Jan Mayen",
        &["Svalbard and Jan Mayen Islands", "Svalbard"],
    ),
    ("SK", "SVK", "Slovakia", &["Slovak Republic"]),
    ("SL", "SLE", "Sierra Leone", &[]),
    ("SM", "SMR", "San Marino", &[]),
    ("SN", "SEN", "Senegal", &[]),
    ("SO", "SOM", "Somalia", &[]),
    ("SR", "SUR", "Suriname", &["Surinam"]),
    ("SS", "SSD", "South Sudan", &[]),
    ("ST", "STP", "Sao Tome and Principe", &[]),
    ("SV", "SLV", "El Salvador", &[]),
    ("SX", "SXM", "Sint Maarten", &["Sint Maarten (Dutch part)"]),
    ("SY", "SYR", "Syria", &["Syrian Arab Republic"]),
    ("SZ", "SWZ", "Eswatini", &["Swaziland"]),
    ("TC", "TCA", "Turks and Caicos Islands", &[]),
    ("TD", "TCD", "Chad", &[]),
    ("TF", "ATF", "French Southern Territories", &[]),
    ("TG", "TGO", "Togo", &[]),
    ("TH", "THA", "Thailand", &[]),
    ("TJ", "TJK", "Tajikistan", &[]),
    ("TK", "TKL", "Tokelau", &[]),
    ("TL", "TLS", "Timor-Leste", &["East Timor"]),
    ("TM", "TKM", "Turkmenistan", &[]),
    ("TN", "TUN", "Tunisia", &[]),
    ("TO", "TON", "Tonga", &[]),
    ("TR", "TUR", "Türkiye", &["Turkey"]),
    ("TT", "TTO", "Trinidad and Tobago", &["Trinidad"]),
    ("TV", "TUV", "Tuvalu", &[]),
    ("TW", "TWN", "Taiwan", &[]),
    (
        "TZ",
        "TZA",
        "Tanzania",
        &[
            "United Republic of Tanzania",
            "Tanzania, United Republic of",
        ],
    ),
    ("UA", "UKR", "Ukraine", &[]),
    ("UG", "UGA", "Uganda", &[]),
    ("UM", "UMI", "United States Minor Outlying Islands", &[]),
    (
        "US",
        "USA",
        "United States",
        &["United States of America", "U.S.", "U.S.A.", "America"],
    ),
    ("UY", "URY", "Uruguay", &[]),
    ("UZ", "UZB", "Uzbekistan", &[]),
    (
        "VA",
        "VAT",
        "Holy See",
        &["Vatican", "Vatican City", "Vatican City State"],
    ),
    ("VC", "VCT", "Saint Vincent and the Grenadines", &[]),
    (
        "VE",
        "VEN",
        "Venezuela",
        &["Bolivarian Republic of Venezuela"],
    ),
    (
        "VG",
        "VGB",
        "British Virgin Islands",
        &["Virgin Islands (British)"],
    ),
    (
        "VI",
        "VIR",
        "United States Virgin Islands",
        &[
            "US Virgin Islands",
            "U.S. Virgin Islands",
            "Virgin Islands (U.S.)",
        ],
    ),
    ("VN", "VNM", "Viet Nam", &["Vietnam"]),
    ("VU", "VUT", "Vanuatu", &[]),
    ("WF", "WLF", "Wallis and Futuna", &[]),
    ("WS", "WSM", "Samoa", &[]),
    ("YE", "YEM", "Yemen", &[]),
    ("YT", "MYT", "Mayotte", &[]),
    ("ZA", "ZAF", "South Africa", &[]),
    ("ZM", "ZMB", "Zambia", &[]),
    ("ZW", "ZWE", "Zimbabwe", &[]),
];

/// Folded key → alpha-2, built once on first use.
static INDEX: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut index = HashMap::with_capacity(COUNTRIES.len() * 4);
    for &(alpha2, alpha3, name, aliases) in COUNTRIES {
        for text in [alpha2, alpha3, name]
            .into_iter()
            .chain(aliases.iter().copied())
        {
            index.entry(fold(text)).or_insert(alpha2);
        }
    }
    index
});

/// The ISO 3166-1 alpha-2 code (upper case) for a country name, alias, alpha-2 or alpha-3
/// code, tolerant of case, accents, punctuation and a trailing parenthetical qualifier.
/// `None` when the text names no current ISO 3166-1 country.
pub(crate) fn alpha2(text: &str) -> Option<&'static str> {
    let folded = fold(text);
    if folded.is_empty() {
        return None;
    }
    if let Some(code) = INDEX.get(&folded) {
        return Some(code);
    }
    // "Slovakia (Slovak Republic)", "Holy See (Vatican City State)": try without the
    // parenthetical part.
    let open = text.find('(')?;
    let mut outer = text[..open].to_owned();
    if let Some(close) = text[open..].find(')') {
        outer.push(' ');
        outer.push_str(&text[open + close + 1..]);
    }
    let folded = fold(&outer);
    INDEX.get(&folded).copied()
}

/// Case-, accent- and punctuation-insensitive key: lower case ASCII words separated by one
/// space, `&` read as "and", `st` as "saint", a leading "the" dropped, apostrophes removed.
fn fold(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\'' | '\u{2019}' | '.' => {}
            '&' => cleaned.push_str(" and "),
            c if c.is_alphanumeric() => {
                for lower in c.to_lowercase() {
                    cleaned.push(strip_accent(lower));
                }
            }
            _ => cleaned.push(' '),
        }
    }
    let mut out = String::with_capacity(cleaned.len());
    for (i, word) in cleaned.split_whitespace().enumerate() {
        if i == 0 && word == "the" {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(if word == "st" { "saint" } else { word });
    }
    out
}

/// Latin letters with diacritics that appear in country names, folded to ASCII.
fn strip_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'ç' => 'c',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_unique_codes() {
        let mut a2: Vec<_> = COUNTRIES.iter().map(|e| e.0).collect();
        let mut a3: Vec<_> = COUNTRIES.iter().map(|e| e.1).collect();
        a2.sort_unstable();
        a2.dedup();
        a3.sort_unstable();
        a3.dedup();
        assert_eq!(a2.len(), COUNTRIES.len());
        assert_eq!(a3.len(), COUNTRIES.len());
        assert_eq!(COUNTRIES.len(), 249);
    }

    #[test]
    fn names_aliases_and_codes() {
        for (text, code) in [
            ("Norway", "NO"),
            ("  united states of america ", "US"),
            ("USA", "US"),
            ("u.s.", "US"),
            ("de", "DE"),
            ("deu", "DE"),
            ("Korea", "KR"),
            ("Cote d'Ivoire", "CI"),
            ("Côte d’Ivoire", "CI"),
            ("Reunion", "RE"),
            ("Svalbard & Jan Mayen Islands", "SJ"),
            ("Slovakia (Slovak Republic)", "SK"),
            ("Holy See (Vatican City State)", "VA"),
            ("Antarctica (the territory South of 60 deg S)", "AQ"),
            ("Cocos (Keeling) Islands", "CC"),
            ("St. Lucia", "LC"),
            ("The Netherlands", "NL"),
            ("Palestinian Territory", "PS"),
            ("Libyan Arab Jamahiriya", "LY"),
            ("Lao People's Democratic Republic", "LA"),
            ("Guinea-Bissau", "GW"),
        ] {
            assert_eq!(alpha2(text), Some(code), "{text}");
        }
    }

    #[test]
    fn unknown_names() {
        for text in ["", "  ", "Atlantis", "Netherlands Antilles", "N/A", "()"] {
            assert_eq!(alpha2(text), None, "{text}");
        }
    }
}
