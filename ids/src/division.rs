//! The versioned GB/T 2260 division table and the functions routing uses:
//! [`current`] (follow abolished codes to their successor), [`lookup`],
//! [`province`] and [`prefecture`].
//!
//! Division codes change over the years while identifiers keep the code
//! they were issued with: an ID number issued in 江干区 still starts with
//! `330104` although that district was abolished in 2021. The table keeps
//! abolished codes and names their successor so routing can map an old code
//! onto the region in force today.
//!
//! The table is a subset: every province, the prefectures and districts of
//! the regions the platforms serve, and every abolition known to matter for
//! them. Codes not in the table are still valid division codes (validity is
//! structure + a real province, see [`DivisionCode`]); [`current`] returns
//! them unchanged. Names are for documentation and tests only: routing is by
//! code, never by name (普陀区 is `330903` in 舟山 and `310107` in 上海).

mod code;
mod table;

pub(crate) use code::is_province;
pub use code::DivisionCode;

/// Identifies the table content: the GB/T 2260 changes it reflects.
pub const TABLE_VERSION: &str = "gb2260-subset-2021";

/// Successor chains longer than this are treated as ending (the table's
/// tests prove every real chain is far shorter and acyclic).
const MAX_SUCCESSOR_STEPS: usize = 16;

/// One row of the division table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivisionEntry {
    /// The division code.
    pub code: DivisionCode,
    /// The official name (documentation and tests only; never route by name).
    pub name: &'static str,
    /// Year the code came into force, `None` if before the table's horizon.
    pub since: Option<u16>,
    /// Year the code was abolished, `None` while in force.
    pub until: Option<u16>,
    /// For an abolished code: the code of the region that took it over.
    pub successor: Option<DivisionCode>,
}

// === impl DivisionEntry ===

impl DivisionEntry {
    /// Whether the code was in force during `year` (a code abolished in year
    /// Y counts as in force before Y, its successor from Y).
    pub fn in_force(&self, year: u16) -> bool {
        self.since.is_none_or(|s| year >= s) && self.until.is_none_or(|u| year < u)
    }

    /// Whether the code has been abolished.
    pub fn is_abolished(&self) -> bool {
        self.until.is_some()
    }
}

/// The table entry for `code`, if the table lists it.
pub fn lookup(code: DivisionCode) -> Option<&'static DivisionEntry> {
    table::ENTRIES
        .binary_search_by_key(&code, |e| e.code)
        .ok()
        .and_then(|i| table::ENTRIES.get(i))
}

/// The code in force today for `code`: follows the successor chain of
/// abolished codes (bounded). Codes not in the table, and codes in force,
/// are returned unchanged.
pub fn current(code: DivisionCode) -> DivisionCode {
    let mut code = code;
    for _ in 0..MAX_SUCCESSOR_STEPS {
        match lookup(code).and_then(|e| e.successor) {
            Some(next) => code = next,
            None => break,
        }
    }
    code
}

/// The province-level code of `code` (first two digits + `0000`).
pub fn province(code: DivisionCode) -> DivisionCode {
    code.province()
}

/// The prefecture-level code of `code` (first four digits + `00`).
pub fn prefecture(code: DivisionCode) -> DivisionCode {
    code.prefecture()
}

/// Every table entry, ordered by code.
pub fn entries() -> &'static [DivisionEntry] {
    table::ENTRIES
}

#[cfg(test)]
mod tests;
