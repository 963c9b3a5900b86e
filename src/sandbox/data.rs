//! The sandbox's input: Maven CRM (owners, accounts, opportunities), datablist contacts and the
//! customer support tickets (support cases, see [`super::support`]).
//!
//! Read as they are, quirks included ("technolgy", "GTXPro", opportunities with no account,
//! phones with extensions, every ticket description the same sentence, resolution times before
//! first responses): coping with them is the point. The embedded copy is a subset (see
//! `tests/data/README.md`; the first 500 of the 8,469 tickets are
//! `src/sandbox/support-tickets.csv`); `--data DIR` reads the full files in the same layout
//! (`support-tickets/customer_support_tickets.csv` may be missing: then no support cases).

use serde::Deserialize;
use std::path::Path;

/// A sales agent (`sales_teams.csv`).
#[derive(Clone, Debug, Deserialize)]
pub struct Agent {
    pub sales_agent: String,
    pub manager: String,
    pub regional_office: String,
}

/// A company (`accounts.csv`); revenue in USD millions.
#[derive(Clone, Debug, Deserialize)]
pub struct Account {
    pub account: String,
    pub sector: String,
    pub year_established: Option<u32>,
    pub revenue: Option<f64>,
    pub employees: Option<u64>,
    pub office_location: String,
    pub subsidiary_of: Option<String>,
}

/// An opportunity (`sales_pipeline.csv`); dates `YYYY-MM-DD`, empty while open.
#[derive(Clone, Debug, Deserialize)]
pub struct Opportunity {
    pub opportunity_id: String,
    pub sales_agent: String,
    pub product: String,
    pub account: Option<String>,
    pub deal_stage: String,
    pub engage_date: Option<String>,
    pub close_date: Option<String>,
    pub close_value: Option<f64>,
}

/// A product (`products.csv`).
#[derive(Clone, Debug, Deserialize)]
pub struct Product {
    pub product: String,
    pub series: String,
    pub sales_price: f64,
}

/// A contact (`customers-10000.csv`).
#[derive(Clone, Debug, Deserialize)]
pub struct Customer {
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "First Name")]
    pub first_name: String,
    #[serde(rename = "Last Name")]
    pub last_name: String,
    #[serde(rename = "Company")]
    pub company: String,
    #[serde(rename = "City")]
    pub city: String,
    #[serde(rename = "Country")]
    pub country: String,
    #[serde(rename = "Phone 1")]
    pub phone_1: String,
    #[serde(rename = "Email")]
    pub email: String,
    #[serde(rename = "Website")]
    pub website: String,
}

/// A customer support ticket (`customer_support_tickets.csv`); empty cells are `None`.
/// Times are `YYYY-MM-DD HH:MM:SS` (all first responses on 2023-06-01); `time_to_resolution`
/// and `resolution` are set only on closed tickets.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Ticket {
    #[serde(rename = "Ticket ID")]
    pub ticket_id: u64,
    #[serde(rename = "Customer Name")]
    pub customer_name: String,
    #[serde(rename = "Customer Email")]
    pub customer_email: String,
    #[serde(rename = "Product Purchased")]
    pub product: String,
    #[serde(rename = "Date of Purchase")]
    pub date_of_purchase: Option<String>,
    /// `Refund request`, `Technical issue`, `Billing inquiry`, `Product inquiry`,
    /// `Cancellation request`.
    #[serde(rename = "Ticket Type")]
    pub ticket_type: String,
    #[serde(rename = "Ticket Subject")]
    pub subject: String,
    #[serde(rename = "Ticket Description")]
    pub description: String,
    /// `Open`, `Pending Customer Response`, `Closed`.
    #[serde(rename = "Ticket Status")]
    pub status: String,
    #[serde(rename = "Resolution")]
    pub resolution: Option<String>,
    /// `Low`, `Medium`, `High`, `Critical`.
    #[serde(rename = "Ticket Priority")]
    pub priority: String,
    /// `Chat`, `Email`, `Phone`, `Social media`.
    #[serde(rename = "Ticket Channel")]
    pub channel: String,
    #[serde(rename = "First Response Time")]
    pub first_response_time: Option<String>,
    #[serde(rename = "Time to Resolution")]
    pub time_to_resolution: Option<String>,
}

/// All sandbox input.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub agents: Vec<Agent>,
    pub accounts: Vec<Account>,
    pub opportunities: Vec<Opportunity>,
    pub products: Vec<Product>,
    pub customers: Vec<Customer>,
    /// Support tickets (empty when the folder has none).
    pub tickets: Vec<Ticket>,
    /// Where it came from, for the summary.
    pub origin: String,
}

/// Why the data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: row {row}: {source}")]
    Csv {
        file: String,
        row: u64,
        source: csv::Error,
    },
}

/// Where the tickets are, under the data folder.
pub const TICKETS_FILE: &str = "support-tickets/customer_support_tickets.csv";

const EMBEDDED: [(&str, &str); 6] = [
    (
        "maven-crm/sales_teams.csv",
        include_str!("../../tests/data/maven-crm/sales_teams.csv"),
    ),
    (
        "maven-crm/accounts.csv",
        include_str!("../../tests/data/maven-crm/accounts.csv"),
    ),
    (
        "maven-crm/sales_pipeline.csv",
        include_str!("../../tests/data/maven-crm/sales_pipeline.csv"),
    ),
    (
        "maven-crm/products.csv",
        include_str!("../../tests/data/maven-crm/products.csv"),
    ),
    (
        "datablist-customers/customers-10000.csv",
        include_str!("../../tests/data/datablist-customers/customers-10000.csv"),
    ),
    // The first 500 tickets (file order) of the shared dataset, unedited.
    (TICKETS_FILE, include_str!("support-tickets.csv")),
];

impl Dataset {
    /// The subset embedded in the binary.
    pub fn embedded() -> Result<Dataset, DataError> {
        Self::from_texts(
            |name| {
                EMBEDDED
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.to_string())
                    .ok_or_else(|| DataError::Io {
                        file: name.into(),
                        source: std::io::ErrorKind::NotFound.into(),
                    })
            },
            "embedded subset (tests/data)".into(),
        )
    }

    /// The files under `dir` (`maven-crm/…`, `datablist-customers/…`, and
    /// `support-tickets/…` if there).
    pub fn from_dir(dir: &Path) -> Result<Dataset, DataError> {
        Self::from_texts(
            |name| {
                let path = dir.join(name);
                match std::fs::read_to_string(&path) {
                    Err(e) if name == TICKETS_FILE && e.kind() == std::io::ErrorKind::NotFound => {
                        tracing::warn!(file = %path.display(), "no support tickets: no support cases");
                        Ok(String::new())
                    }
                    read => read.map_err(|source| DataError::Io {
                        file: path.display().to_string(),
                        source,
                    }),
                }
            },
            dir.display().to_string(),
        )
    }

    fn from_texts(
        read: impl Fn(&str) -> Result<String, DataError>,
        origin: String,
    ) -> Result<Dataset, DataError> {
        Ok(Dataset {
            agents: parse(&read("maven-crm/sales_teams.csv")?, "sales_teams.csv")?,
            accounts: parse(&read("maven-crm/accounts.csv")?, "accounts.csv")?,
            opportunities: parse(&read("maven-crm/sales_pipeline.csv")?, "sales_pipeline.csv")?,
            products: parse(&read("maven-crm/products.csv")?, "products.csv")?,
            customers: parse(
                &read("datablist-customers/customers-10000.csv")?,
                "customers-10000.csv",
            )?,
            tickets: match read(TICKETS_FILE)? {
                text if text.is_empty() => Vec::new(),
                text => parse(&text, "customer_support_tickets.csv")?,
            },
            origin,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<Vec<T>, DataError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| {
            row.map_err(|source| DataError::Csv {
                file: file.to_string(),
                row: i as u64 + 2,
                source,
            })
        })
        .collect()
}

/// `Anna Snelling` → `anna.snelling@example.com`.
pub fn person_email(name: &str) -> String {
    format!(
        "{}@example.com",
        name.trim()
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(".")
    )
}

/// `Acme Corporation` → `acmecorporation.com`: the web domain the sandbox gives an
/// account (the Maven data has none), shared with some arriving leads so matching is exercised.
pub fn account_domain(name: &str) -> String {
    let slug: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{slug}.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_parses_with_its_quirks() {
        let d = Dataset::embedded().unwrap();
        assert_eq!(d.agents.len(), 35);
        assert_eq!(d.accounts.len(), 85);
        assert_eq!(d.opportunities.len(), 1500);
        assert_eq!(d.customers.len(), 1500);
        assert!(d.accounts.iter().any(|a| a.sector == "technolgy"));
        assert!(d.opportunities.iter().any(|o| o.account.is_none()));
        assert!(d.opportunities.iter().any(|o| o.product == "GTXPro"));
        assert_eq!(d.tickets.len(), 500);
        let t = &d.tickets[0];
        assert_eq!(
            (t.ticket_id, t.channel.as_str(), t.priority.as_str()),
            (1, "Email", "Critical")
        );
        assert_eq!(t.resolution, None);
        assert!(d.tickets.iter().any(|t| t.resolution.is_some()));
        // The quirk: one description for every ticket.
        assert!(d.tickets.iter().all(|x| x.description == t.description));
    }
}
