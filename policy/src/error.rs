//! Policy load errors: each names the file, line, column and key path of the
//! offending value, a stable [`ErrorKind`] and a human message.
//!
//! Messages never quote subject identifiers, names or phone numbers: a bad
//! legacy code or fingerprint is described, not echoed.

use std::fmt;
use std::ops::Range;

/// What is wrong, as a stable machine-readable class (see [`ErrorKind::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not TOML, or does not have the policy file's shape
    /// (unknown key, wrong type, missing required key).
    Syntax,
    /// `version` is not a version this crate understands.
    UnsupportedVersion,
    /// An id or code is empty or uses characters outside `A-Z a-z 0-9 . _ -`.
    InvalidId,
    /// Two entries of the same table array share an id.
    DuplicateId,
    /// A list names the same entry twice.
    DuplicateEntry,
    /// A grant names a scope that is not declared.
    UnknownScope,
    /// A client names a profile that is not declared.
    UnknownProfile,
    /// A grant names a purpose that is not declared.
    UnknownPurpose,
    /// A grant requires subject authorization but no issuer is trusted.
    MissingIssuer,
    /// A section name is not one of the report sections.
    UnknownSection,
    /// A profile names a path that is not a canonical field.
    UnknownField,
    /// A profile uses a transform name that does not exist.
    UnknownTransform,
    /// A scope names an endpoint that does not exist.
    UnknownEndpoint,
    /// A client kind that does not exist.
    UnknownClientKind,
    /// A grant's `authorization` is neither `required` nor `not_required`.
    UnknownAuthorization,
    /// A transform is applied to a field of a kind it cannot mask.
    TransformKindMismatch,
    /// A client has no certificate match rule.
    EmptyMatch,
    /// A match rule names an organization without a common name.
    OrganizationWithoutCn,
    /// Two clients could match the same certificate.
    OverlappingMatch,
    /// A SHA-256 fingerprint is not 32 bytes of hex.
    InvalidFingerprint,
    /// A scope or grant would grant no section.
    EmptySections,
    /// A grant allows no purpose.
    EmptyPurposes,
    /// Sections are given for an endpoint that has none, or are missing
    /// where required.
    SectionsNotApplicable,
    /// A grant names a section its scope does not contain.
    SectionOutsideScope,
    /// A legacy code is not a well-formed pre-standard USCC (SPEC §3).
    InvalidLegacyCode,
    /// A rate limit has a zero, negative or non-finite number.
    InvalidRateLimit,
    /// A peer platform has no home score scheme.
    MissingHomeScheme,
    /// A home score scheme is not among the configuration's schemes.
    UnknownScheme,
    /// An issuer has no key, both kinds of key, or an unreadable one.
    InvalidIssuerKey,
    /// A value is empty or out of range.
    InvalidValue,
    /// A scope is granted to a client of a kind that must not hold it.
    KindMismatch,
    /// A grant waives the subject's authorization where the law requires it
    /// (a person's score, a subject's own access log).
    AuthorizationMandatory,
    /// A client's grants for one endpoint overlap in purpose, so a request
    /// could not be attributed to one grant.
    AmbiguousGrant,
    /// (Warning) A profile keeps a personal field unmasked.
    PersonalFieldKept,
}

/// One problem found in a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The file name or other origin given to [`crate::Policy::parse`].
    pub origin: String,
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column (in characters) of the offending value.
    pub column: usize,
    /// Where in the document, e.g. `clients[1].grants[0].scope`; empty when
    /// unknown (syntax errors).
    pub key_path: String,
    /// The stable class of the problem.
    pub kind: ErrorKind,
    /// What is wrong, for people.
    pub message: String,
}

/// Every problem found in a policy file (never empty when returned as an
/// error). `Display` prints one problem per line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_lines(.0))]
pub struct PolicyErrors(pub Vec<PolicyError>);

/// Maps byte offsets of a source text to 1-based lines and columns.
#[derive(Clone, Debug)]
pub(crate) struct Locator<'a> {
    origin: &'a str,
    source: &'a str,
    line_starts: Vec<usize>,
}

// === impl ErrorKind ===

impl ErrorKind {
    /// The kind's stable snake_case name (e.g. `unknown_scope`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::UnsupportedVersion => "unsupported_version",
            ErrorKind::InvalidId => "invalid_id",
            ErrorKind::DuplicateId => "duplicate_id",
            ErrorKind::DuplicateEntry => "duplicate_entry",
            ErrorKind::UnknownScope => "unknown_scope",
            ErrorKind::UnknownProfile => "unknown_profile",
            ErrorKind::UnknownPurpose => "unknown_purpose",
            ErrorKind::MissingIssuer => "missing_issuer",
            ErrorKind::UnknownSection => "unknown_section",
            ErrorKind::UnknownField => "unknown_field",
            ErrorKind::UnknownTransform => "unknown_transform",
            ErrorKind::UnknownEndpoint => "unknown_endpoint",
            ErrorKind::UnknownClientKind => "unknown_client_kind",
            ErrorKind::UnknownAuthorization => "unknown_authorization",
            ErrorKind::TransformKindMismatch => "transform_kind_mismatch",
            ErrorKind::EmptyMatch => "empty_match",
            ErrorKind::OrganizationWithoutCn => "organization_without_cn",
            ErrorKind::OverlappingMatch => "overlapping_match",
            ErrorKind::InvalidFingerprint => "invalid_fingerprint",
            ErrorKind::EmptySections => "empty_sections",
            ErrorKind::EmptyPurposes => "empty_purposes",
            ErrorKind::SectionsNotApplicable => "sections_not_applicable",
            ErrorKind::SectionOutsideScope => "section_outside_scope",
            ErrorKind::InvalidLegacyCode => "invalid_legacy_code",
            ErrorKind::InvalidRateLimit => "invalid_rate_limit",
            ErrorKind::MissingHomeScheme => "missing_home_scheme",
            ErrorKind::UnknownScheme => "unknown_home_scheme",
            ErrorKind::InvalidIssuerKey => "invalid_issuer_key",
            ErrorKind::InvalidValue => "invalid_value",
            ErrorKind::KindMismatch => "kind_mismatch",
            ErrorKind::AuthorizationMandatory => "authorization_mandatory",
            ErrorKind::AmbiguousGrant => "ambiguous_grant",
            ErrorKind::PersonalFieldKept => "personal_field_kept",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl PolicyError ===

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if !self.key_path.is_empty() {
            write!(f, "{}: ", self.key_path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

// === impl PolicyErrors ===

impl PolicyErrors {
    /// The problems, in document order.
    pub fn errors(&self) -> &[PolicyError] {
        &self.0
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never true for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the problems.
    pub fn iter(&self) -> std::slice::Iter<'_, PolicyError> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a PolicyErrors {
    type Item = &'a PolicyError;
    type IntoIter = std::slice::Iter<'a, PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

fn display_lines(errors: &[PolicyError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

// === impl Locator ===

impl<'a> Locator<'a> {
    /// Indexes `source`'s line starts.
    pub(crate) fn new(origin: &'a str, source: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Locator {
            origin,
            source,
            line_starts,
        }
    }

    /// 1-based line and character column of byte `offset` (clamped).
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .source
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, column)
    }

    /// An error at the start of `span`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        key_path: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> PolicyError {
        let (line, column) = self.line_col(span.start);
        PolicyError {
            origin: self.origin.to_owned(),
            line,
            column,
            key_path: key_path.into(),
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "a = 1\n名 = \"x\"\nb";
        let loc = Locator::new("p.toml", src);
        assert_eq!(loc.line_col(0), (1, 1));
        assert_eq!(loc.line_col(4), (1, 5));
        assert_eq!(loc.line_col(6), (2, 1));
        // `=` after a 3-byte character is column 3.
        assert_eq!(loc.line_col(10), (2, 3));
        assert_eq!(loc.line_col(src.len()), (3, 2));
    }

    #[test]
    fn display_with_and_without_key_path() {
        let loc = Locator::new("policy.toml", "x\ny\n");
        let e = loc.error(2..3, "clients[1].id", ErrorKind::DuplicateId, "dup");
        assert_eq!(e.to_string(), "policy.toml:2:1: clients[1].id: dup");
        let e = loc.error(0..1, "", ErrorKind::Syntax, "bad");
        assert_eq!(e.to_string(), "policy.toml:1:1: bad");
        let all = PolicyErrors(vec![e.clone(), e]);
        assert_eq!(all.to_string().lines().count(), 2);
    }
}
