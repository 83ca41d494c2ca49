//! Deterministic synthetic subjects: the ground truth the simulated
//! platforms serve, in credgate's canonical model.
//!
//! [`Dataset::generate`] is a pure function of its seed. Every 统一社会信用代码
//! and 居民身份证号码 it mints is valid (the legacy Xiamen codes are valid
//! pre-standard codes: mod-31 fails, the embedded 组织机构代码 check passes).

use std::collections::HashMap;

use credgate_policy::canonical::{
    AbnormalEntry, Basic, Commitment, DishonestEntry, EnterpriseRecord, Evaluation, License,
    ListEntry, Listing, ListingKind, NativeScore, Penalty, Repair, Section, SectionData,
};
use serde_json::{json, Value};

use crate::platform::PlatformId;

mod generate;
mod pools;

/// The instant every platform reports as its data's as-of time.
pub const AS_OF: &str = "2026-11-01T00:00:00Z";
/// [`AS_OF`] as a date.
pub const AS_OF_DATE: &str = "2026-11-01";

/// An enterprise and everything the platforms know about it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimEnterprise {
    /// 统一社会信用代码.
    pub uscc: String,
    /// Six-digit division code (positions 3–8 of the code).
    pub region: String,
    /// The owning platform (longest-prefix match).
    pub platform: PlatformId,
    /// A pre-standard code (valid only through a legacy allow-list).
    pub legacy: bool,
    /// Registration facts.
    pub basic: Basic,
    /// Administrative licences.
    pub licenses: Vec<License>,
    /// Administrative penalties.
    pub penalties: Vec<Penalty>,
    /// Red-list entries.
    pub redlist: Vec<ListEntry>,
    /// Black-list entries (current and expired).
    pub blacklist: Vec<ListEntry>,
    /// Dishonest-debtor entries (all current).
    pub dishonest: Vec<DishonestEntry>,
    /// Abnormal-operation listings (current and removed).
    pub abnormal: Vec<AbnormalEntry>,
    /// Credit commitments.
    pub commitments: Vec<Commitment>,
    /// Credit repairs.
    pub repairs: Vec<Repair>,
    /// Comprehensive evaluation, if evaluated.
    pub evaluation: Option<Evaluation>,
}

/// A person's native score as its home platform issues it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimScore {
    /// Scheme id (`tianyi`, `qianjiang`, `bailu`).
    pub scheme: &'static str,
    /// Value on the scheme's scale (whole points).
    pub value: u32,
    /// Issue date, `YYYY-MM-DD`.
    pub issued_at: String,
}

/// A natural person.
#[derive(Clone, Debug, PartialEq)]
pub struct SimPerson {
    /// 居民身份证号码.
    pub id: String,
    /// Division code the number was issued with (may be abolished).
    pub region: String,
    /// The owning platform.
    pub platform: PlatformId,
    /// Full name.
    pub name: String,
    /// Mobile number.
    pub phone: String,
    /// Native score (home platforms that issue one).
    pub score: Option<SimScore>,
    /// Dishonest-debtor entries (all current).
    pub dishonest: Vec<DishonestEntry>,
}

/// A valid identifier that the dataset deliberately does not hold.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtraSubject {
    /// `uscc` or `id`.
    pub kind: &'static str,
    /// The identifier.
    pub code: String,
    /// Its division code.
    pub region: String,
}

/// The whole synthetic world for one seed.
#[derive(Clone, Debug)]
pub struct Dataset {
    seed: u64,
    enterprises: Vec<SimEnterprise>,
    persons: Vec<SimPerson>,
    unserved: Vec<ExtraSubject>,
    not_held: Vec<ExtraSubject>,
    by_uscc: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
}

// === impl SimEnterprise ===

impl SimEnterprise {
    /// One section's canonical data.
    pub fn section(&self, section: Section) -> SectionData {
        match section {
            Section::Basic => SectionData::Basic(Box::new(self.basic.clone())),
            Section::Licenses => SectionData::Licenses(self.licenses.clone()),
            Section::Penalties => SectionData::Penalties(self.penalties.clone()),
            Section::Redlist => SectionData::Listings(self.redlist.clone()),
            Section::Blacklist => SectionData::Listings(self.blacklist.clone()),
            Section::Dishonest => SectionData::Dishonest(self.dishonest.clone()),
            Section::Abnormal => SectionData::Abnormal(self.abnormal.clone()),
            Section::Commitments => SectionData::Commitments(self.commitments.clone()),
            Section::Repairs => SectionData::Repairs(self.repairs.clone()),
            Section::Evaluation => SectionData::Evaluation(self.evaluation.clone()),
        }
    }

    /// The canonical record an adapter should produce for `sections`:
    /// requested sections in [`Section::ALL`] order, each as of [`AS_OF`].
    pub fn record(&self, sections: &[Section]) -> EnterpriseRecord {
        EnterpriseRecord {
            uscc: self.uscc.clone(),
            sections: Section::ALL
                .into_iter()
                .filter(|s| sections.contains(s))
                .map(|s| (s, AS_OF.to_owned(), self.section(s)))
                .collect(),
            unreadable: Vec::new(),
        }
    }

    /// Current joint-punishment listings: unexpired black-list entries,
    /// dishonest-debtor entries and unremoved abnormal listings.
    pub fn listings(&self) -> Vec<Listing> {
        let black = self
            .blacklist
            .iter()
            .filter(|e| e.expires_on.as_deref().is_none_or(|d| d > AS_OF_DATE))
            .map(|e| Listing {
                kind: ListingKind::Blacklist,
                list_name: e.list_name.clone(),
                basis: e.basis.clone(),
                authority: e.authority.clone(),
                listed_on: e.listed_on.clone(),
            });
        let abnormal = self
            .abnormal
            .iter()
            .filter(|e| e.removed_on.is_none())
            .map(|e| Listing {
                kind: ListingKind::Abnormal,
                list_name: ABNORMAL_LIST.to_owned(),
                basis: e.reason.clone(),
                authority: e.authority.clone(),
                listed_on: e.listed_on.clone(),
            });
        black
            .chain(dishonest_listings(&self.dishonest))
            .chain(abnormal)
            .collect()
    }

    /// Whether the enterprise is currently on any joint-punishment list.
    pub fn sanctioned(&self) -> bool {
        !self.listings().is_empty()
    }
}

/// Name of the abnormal-operation list in sanctions answers.
pub const ABNORMAL_LIST: &str = "经营异常名录";
/// Name of the dishonest-debtor list in sanctions answers.
pub const DISHONEST_LIST: &str = "失信被执行人名单";

fn dishonest_listings(entries: &[DishonestEntry]) -> impl Iterator<Item = Listing> + '_ {
    entries.iter().map(|e| Listing {
        kind: ListingKind::Dishonest,
        list_name: DISHONEST_LIST.to_owned(),
        basis: e.case_no.clone(),
        authority: e.court.clone(),
        listed_on: e.published_on.clone(),
    })
}

// === impl SimPerson ===

impl SimPerson {
    /// The canonical score the home platform's adapter should produce.
    pub fn native_score(&self) -> Option<NativeScore> {
        self.score.as_ref().map(|s| NativeScore {
            scheme: s.scheme.to_owned(),
            value: f64::from(s.value),
            issued_at: s.issued_at.clone(),
            issuer: self.platform.name().to_owned(),
        })
    }

    /// Current listings (dishonest-debtor entries).
    pub fn listings(&self) -> Vec<Listing> {
        dishonest_listings(&self.dishonest).collect()
    }

    /// Whether the person is currently a dishonest debtor.
    pub fn sanctioned(&self) -> bool {
        !self.dishonest.is_empty()
    }
}

// === impl Dataset ===

impl Dataset {
    /// Generates the world for `seed` (pure and deterministic).
    pub fn generate(seed: u64) -> Dataset {
        let g = generate::generate(seed);
        let by_uscc = g
            .enterprises
            .iter()
            .enumerate()
            .map(|(i, e)| (e.uscc.clone(), i))
            .collect();
        let by_id = g
            .persons
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Dataset {
            seed,
            enterprises: g.enterprises,
            persons: g.persons,
            unserved: g.unserved,
            not_held: g.not_held,
            by_uscc,
            by_id,
        }
    }

    /// The seed the world was generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Every enterprise (standard and legacy codes).
    pub fn enterprises(&self) -> &[SimEnterprise] {
        &self.enterprises
    }

    /// Every person.
    pub fn persons(&self) -> &[SimPerson] {
        &self.persons
    }

    /// An enterprise by (normalised) code.
    pub fn enterprise(&self, uscc: &str) -> Option<&SimEnterprise> {
        self.by_uscc
            .get(uscc)
            .and_then(|i| self.enterprises.get(*i))
    }

    /// A person by (normalised) ID number.
    pub fn person(&self, id: &str) -> Option<&SimPerson> {
        self.by_id.get(id).and_then(|i| self.persons.get(*i))
    }

    /// Pre-standard codes the Xiamen platform holds.
    pub fn legacy_codes(&self) -> Vec<&str> {
        self.enterprises
            .iter()
            .filter(|e| e.legacy)
            .map(|e| e.uscc.as_str())
            .collect()
    }

    /// Valid identifiers from regions no platform serves.
    pub fn unserved(&self) -> &[ExtraSubject] {
        &self.unserved
    }

    /// Valid identifiers from served regions that no platform holds.
    pub fn not_held(&self) -> &[ExtraSubject] {
        &self.not_held
    }

    /// The enterprise `uscc` if `platform` holds it.
    pub fn enterprise_on(&self, platform: PlatformId, uscc: &str) -> Option<&SimEnterprise> {
        self.enterprise(uscc)
            .filter(|e| platform.holds_region(&e.region))
    }

    /// The person `id` if `platform` holds them.
    pub fn person_on(&self, platform: PlatformId, id: &str) -> Option<&SimPerson> {
        self.person(id).filter(|p| platform.holds_region(&p.region))
    }

    /// What `platform` answers for `subject` in a sanctions check: `None`
    /// when it does not know the subject, else its current listings.
    pub fn sanctions_on(&self, platform: PlatformId, subject: &str) -> Option<Vec<Listing>> {
        if let Some(e) = self.enterprise_on(platform, subject) {
            return Some(e.listings());
        }
        self.person_on(platform, subject).map(SimPerson::listings)
    }

    /// SPEC §11's `samples.json`, plus `legacy_enterprises`, `unserved` and
    /// `not_held` examples.
    pub fn samples_json(&self) -> Value {
        let holders = |region: &str| -> Vec<&'static str> {
            PlatformId::ALL
                .into_iter()
                .filter(|p| p.holds_region(region))
                .map(PlatformId::name)
                .collect()
        };
        let ent = |e: &SimEnterprise| {
            json!({
                "uscc": e.uscc, "region": e.region, "platform": e.platform.name(),
                "sanctioned": e.sanctioned(), "held_by": holders(&e.region),
            })
        };
        let extra = |x: &ExtraSubject| json!({ x.kind: x.code, "region": x.region });
        json!({
            "seed": self.seed,
            "as_of": AS_OF,
            "enterprises": self.enterprises.iter().filter(|e| !e.legacy).map(ent).collect::<Vec<_>>(),
            "persons": self.persons.iter().map(|p| json!({
                "id": p.id, "region": p.region, "platform": p.platform.name(),
                "scheme": p.score.as_ref().map(|s| s.scheme),
                "score": p.score.as_ref().map(|s| s.value),
                "sanctioned": p.sanctioned(), "held_by": holders(&p.region),
            })).collect::<Vec<_>>(),
            "legacy_codes": self.legacy_codes(),
            "legacy_enterprises": self.enterprises.iter().filter(|e| e.legacy).map(ent).collect::<Vec<_>>(),
            "unserved": self.unserved.iter().map(extra).collect::<Vec<_>>(),
            "not_held": self.not_held.iter().map(extra).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests;
