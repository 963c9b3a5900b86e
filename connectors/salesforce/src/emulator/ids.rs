//! Record ids: 18 characters, the key prefix (S6, unverified), a 12-character base-62 counter
//! and the usual 3-character case-safe suffix. Ids sort (byte order) in creation order, which
//! the feed's `ORDER BY SystemModstamp, Id` relies on for records sharing a stamp.

use super::schema::{ObjectDef, OBJECTS};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An 18-character id: `prefix` + `n` in 12 base-62 digits + the case-safe suffix.
pub fn make_id(prefix: &str, n: u64) -> String {
    let mut digits = [b'0'; 12];
    let mut v = n;
    for d in digits.iter_mut().rev() {
        *d = BASE62[(v % 62) as usize];
        v /= 62;
    }
    let mut id = String::with_capacity(18);
    id.push_str(prefix);
    id.push_str(std::str::from_utf8(&digits).unwrap_or("000000000000"));
    let suffix: String = id
        .as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits] as char
        })
        .collect();
    id.push_str(&suffix);
    id
}

/// The object whose key prefix starts `id`, if any.
pub fn object_of_id(id: &str) -> Option<&'static ObjectDef> {
    let prefix = id.get(..3)?;
    OBJECTS.iter().find(|o| o.prefix == prefix && !o.is_history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_18_characters_and_sort_in_creation_order() {
        let a = make_id("00Q", 61);
        let b = make_id("00Q", 62);
        assert_eq!(a.len(), 18);
        assert!(a < b, "{a} < {b}");
        assert_eq!(object_of_id(&a).map(|o| o.name), Some("Lead"));
        // The suffix encodes which of the 15 characters are upper case.
        assert_eq!(&make_id("001", 0)[15..], "AAA");
        assert_eq!(
            &make_id("00Q", 10 * 62 * 62)[15..],
            "EAE",
            "Q (3rd) and A (13th) are upper case"
        );
    }
}
