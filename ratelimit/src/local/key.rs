//! The in-process map key: an owned (client, scope) that can be looked up by a borrowed
//! [`Key`] without allocating (the `Borrow<dyn Trait>` idiom).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use crate::limit::Key;

/// An owned (client, scope), stored in the map.
#[derive(Debug, Clone)]
pub(crate) struct SlotKey {
    client: Box<str>,
    scope: Option<Box<str>>,
}

/// A (client, scope) view shared by the owned and the borrowed key, so that both hash and
/// compare the same way.
pub(crate) trait KeyParts {
    /// The client and the scope.
    fn parts(&self) -> (&str, Option<&str>);
}

// === impl SlotKey ===

impl SlotKey {
    /// An owned copy of `key`.
    pub fn new(key: &Key<'_>) -> Self {
        Self {
            client: key.client.into(),
            scope: key.scope.map(Into::into),
        }
    }
}

impl KeyParts for SlotKey {
    fn parts(&self) -> (&str, Option<&str>) {
        (&self.client, self.scope.as_deref())
    }
}

impl KeyParts for Key<'_> {
    fn parts(&self) -> (&str, Option<&str>) {
        (self.client, self.scope)
    }
}

impl<'a> Borrow<dyn KeyParts + 'a> for SlotKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

// Hash and equality go through `parts()` for the owned key and the borrowed view alike, as
// `Borrow` requires.

impl Hash for dyn KeyParts + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

impl Hash for SlotKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for SlotKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for SlotKey {}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn owned_keys_are_found_by_borrowed_keys() {
        let mut map = HashMap::new();
        map.insert(SlotKey::new(&Key::client("bank-nb")), 1);
        map.insert(
            SlotKey::new(&Key::scoped("bank-nb", "enterprise.report")),
            2,
        );
        let look = |k: Key<'_>| map.get(&k as &dyn KeyParts).copied();
        assert_eq!(look(Key::client("bank-nb")), Some(1));
        assert_eq!(look(Key::scoped("bank-nb", "enterprise.report")), Some(2));
        assert_eq!(look(Key::scoped("bank-nb", "sanctions.check")), None);
        assert_eq!(look(Key::client("dept-nb")), None);
    }
}
