//! [`PrefixRouter`]: longest-prefix matching of division codes onto
//! configured values (upstream platforms, region names …).

use std::collections::HashMap;

use crate::division::{self, is_province, DivisionCode};
use crate::RouterError;

/// Maps division-code prefixes (2 to 6 digits) to values and routes a code
/// to the value of its longest matching prefix, after mapping the code to
/// the one in force today with [`division::current`] (so an ID number
/// issued in 江干区 `330104` routes like 上城区 `330102`).
///
/// Prefixes are matched against the current code only: configure regions
/// with codes in force.
#[derive(Debug, Clone)]
pub struct PrefixRouter<T> {
    /// (prefix length, prefix value) → index into `routes`.
    index: HashMap<(u32, u32), usize>,
    /// (prefix digits, value), in configuration order.
    routes: Vec<(String, T)>,
}

// === impl PrefixRouter ===

impl<T> PrefixRouter<T> {
    /// Builds a router from `(prefix, value)` pairs.
    ///
    /// Each prefix must be 2 to 6 ASCII digits whose first two are a
    /// province-level code; a prefix given twice is an error.
    pub fn new<I, P>(pairs: I) -> Result<PrefixRouter<T>, RouterError>
    where
        I: IntoIterator<Item = (P, T)>,
        P: AsRef<str>,
    {
        let mut index = HashMap::new();
        let mut routes = Vec::new();
        for (i, (prefix, value)) in pairs.into_iter().enumerate() {
            let prefix = prefix.as_ref();
            let key = parse_prefix(prefix, i)?;
            if index.insert(key, routes.len()).is_some() {
                return Err(RouterError::DuplicatePrefix {
                    prefix: prefix.to_owned(),
                });
            }
            routes.push((prefix.to_owned(), value));
        }
        Ok(PrefixRouter { index, routes })
    }

    /// The value of the longest prefix matching the current code for
    /// `code`, or `None` when no prefix matches.
    pub fn route(&self, code: &DivisionCode) -> Option<&T> {
        self.route_with_prefix(code).map(|(_, value)| value)
    }

    /// Like [`route`](Self::route), also returning the matching prefix.
    pub fn route_with_prefix(&self, code: &DivisionCode) -> Option<(&str, &T)> {
        let current = division::current(*code);
        (2..=6u32)
            .rev()
            .find_map(|len| self.index.get(&(len, current.leading(len))))
            .and_then(|&i| self.routes.get(i))
            .map(|(prefix, value)| (prefix.as_str(), value))
    }

    /// The configured `(prefix, value)` pairs, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.routes.iter().map(|(p, v)| (p.as_str(), v))
    }

    /// Number of configured prefixes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether no prefix is configured.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// Validates a prefix and returns its (length, numeric value) key.
fn parse_prefix(prefix: &str, index: usize) -> Result<(u32, u32), RouterError> {
    let invalid = RouterError::InvalidPrefix { index };
    if !(2..=6).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    let value: u32 = prefix.parse().map_err(|_| invalid)?;
    // 2..=6 ASCII bytes, so the length fits in u32.
    let len = u32::try_from(prefix.len()).unwrap_or(6);
    let province = value / 10u32.pow(len - 2);
    let national = DivisionCode::NATIONAL.leading(len) == value;
    if !is_province(province) && !national {
        return Err(RouterError::UnknownProvince { index });
    }
    Ok((len, value))
}

#[cfg(test)]
mod tests;
