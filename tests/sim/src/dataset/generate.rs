//! The generator behind [`Dataset::generate`](super::Dataset::generate).

use std::collections::HashSet;

use credgate_policy::canonical::{DishonestEntry, PersonRef};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::pools::*;

mod enterprise;
use super::{ExtraSubject, SimEnterprise, SimPerson, SimScore};
use crate::checks::{id_check, org_check, uscc_check, USCC_CHARSET};
use crate::platform::PlatformId;
use crate::text::{days_from_ymd, iso_date};

/// Everything the generator produces.
pub(super) struct Generated {
    pub enterprises: Vec<SimEnterprise>,
    pub persons: Vec<SimPerson>,
    pub unserved: Vec<ExtraSubject>,
    pub not_held: Vec<ExtraSubject>,
}

/// Why an enterprise is currently sanctioned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sanction {
    Blacklist,
    Dishonest,
    Abnormal,
}

const SANCTIONS: [Sanction; 3] = [Sanction::Blacklist, Sanction::Dishonest, Sanction::Abnormal];

/// 钱江分 values on and either side of every tier boundary (550/600/700/750).
const QIANJIANG_VALUES: [u32; 14] = [
    320, 549, 550, 551, 599, 600, 601, 699, 700, 701, 749, 750, 751, 880,
];

struct Gen {
    rng: StdRng,
    usccs: HashSet<String>,
    ids: HashSet<String>,
    names: HashSet<String>,
    people: usize,
    seq: u32,
}

pub(super) fn generate(seed: u64) -> Generated {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        usccs: HashSet::new(),
        ids: HashSet::new(),
        names: HashSet::new(),
        people: 0,
        seq: 0,
    };
    let mut enterprises = Vec::new();
    let mut k = 0;
    for (group, per) in [(NINGBO, 3), (HANGZHOU, 3), (ZHEJIANG_OTHER, 2), (XIAMEN, 4)] {
        let mut j = 0;
        for district in group {
            for _ in 0..per {
                let sanction = (j % 3 == 0).then(|| {
                    k += 1;
                    SANCTIONS[(k - 1) % 3]
                });
                enterprises.push(g.enterprise(district, sanction, j, false));
                j += 1;
            }
        }
    }
    for (j, district) in XIAMEN.iter().cycle().take(3).enumerate() {
        let sanction = (j == 0).then_some(Sanction::Blacklist);
        enterprises.push(g.enterprise(district, sanction, j + 1, true));
    }

    let mut persons = Vec::new();
    let ningbo = bands(7, 0, 200);
    let xiamen = bands(6, 300, 900);
    let hangzhou: Vec<&District> = HANGZHOU.iter().chain(HANGZHOU_OLD).collect();
    for (i, v) in ningbo.iter().enumerate() {
        persons.push(g.person(&NINGBO[i % NINGBO.len()], Some(("tianyi", *v)), i));
    }
    for (i, v) in QIANJIANG_VALUES.iter().enumerate() {
        persons.push(g.person(hangzhou[i % hangzhou.len()], Some(("qianjiang", *v)), i));
    }
    for (i, v) in xiamen.iter().enumerate() {
        persons.push(g.person(&XIAMEN[i % XIAMEN.len()], Some(("bailu", *v)), i));
    }
    for (i, d) in ZHEJIANG_OTHER.iter().enumerate() {
        persons.push(g.person(d, None, i));
    }

    let unserved = vec![
        ExtraSubject {
            kind: "uscc",
            code: g.uscc("310107"),
            region: "310107".into(),
        },
        ExtraSubject {
            kind: "id",
            code: g.id_number("310107"),
            region: "310107".into(),
        },
        ExtraSubject {
            kind: "uscc",
            code: g.uscc("110105"),
            region: "110105".into(),
        },
    ];
    let not_held = vec![
        ExtraSubject {
            kind: "uscc",
            code: g.uscc("330203"),
            region: "330203".into(),
        },
        ExtraSubject {
            kind: "uscc",
            code: g.uscc("330302"),
            region: "330302".into(),
        },
        ExtraSubject {
            kind: "id",
            code: g.id_number("330106"),
            region: "330106".into(),
        },
        ExtraSubject {
            kind: "uscc",
            code: g.uscc("350206"),
            region: "350206".into(),
        },
    ];
    Generated {
        enterprises,
        persons,
        unserved,
        not_held,
    }
}

/// `n` whole values spread over `lo..=hi`: one per equal band.
fn bands(n: u32, lo: u32, hi: u32) -> Vec<u32> {
    (0..n)
        .map(|i| lo + (hi - lo) * i / n + (hi - lo) / (2 * n))
        .collect()
}

fn add_years(date: &str, years: i64) -> String {
    let y: i64 = date.get(0..4).and_then(|s| s.parse().ok()).unwrap_or(2020);
    let rest = date.get(4..).unwrap_or("-01-01");
    let rest = if rest == "-02-29" { "-02-28" } else { rest };
    format!("{:04}{rest}", y + years)
}

// === impl Gen ===

impl Gen {
    /// A pool element (pools are non-empty constants).
    fn pick<T: Copy>(&mut self, pool: &[T]) -> T {
        pool[self.rng.gen_range(0..pool.len())]
    }

    fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        100 + self.seq * 7 % 900
    }

    fn date(&mut self, from: (i64, u32, u32), to: (i64, u32, u32)) -> String {
        let a = days_from_ymd(from.0, from.1, from.2);
        let b = days_from_ymd(to.0, to.1, to.2);
        iso_date(self.rng.gen_range(a..=b))
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.gen_range(0..10u8)))
            .collect()
    }

    fn org_code(&mut self) -> String {
        loop {
            let mut body = String::with_capacity(9);
            if self.rng.gen_bool(0.3) {
                body.push(char::from(
                    USCC_CHARSET[self.rng.gen_range(10..USCC_CHARSET.len())],
                ));
                body.push_str(&self.digits(7));
            } else {
                body.push_str(&self.digits(8));
            }
            if let Some(c) = org_check(&body) {
                body.push(c);
                return body;
            }
        }
    }

    fn uscc(&mut self, region: &str) -> String {
        loop {
            let first17 = format!("91{region}{}", self.org_code());
            if let Some(c) = uscc_check(&first17) {
                let code = format!("{first17}{c}");
                if self.usccs.insert(code.clone()) {
                    return code;
                }
            }
        }
    }

    /// A pre-standard code: valid org-code check, wrong mod-31 check.
    fn legacy_uscc(&mut self, region: &str) -> String {
        loop {
            let first17 = format!("91{region}{}", self.org_code());
            let last = char::from(USCC_CHARSET[self.rng.gen_range(0..USCC_CHARSET.len())]);
            if uscc_check(&first17) != Some(last) {
                let code = format!("{first17}{last}");
                if self.usccs.insert(code.clone()) {
                    return code;
                }
            }
        }
    }

    fn id_number(&mut self, region: &str) -> String {
        loop {
            let birth = self.date((1960, 1, 1), (2000, 12, 31)).replace('-', "");
            let first17 = format!("{region}{birth}{}", self.digits(3));
            if let Some(c) = id_check(&first17) {
                let id = format!("{first17}{c}");
                if self.ids.insert(id.clone()) {
                    return id;
                }
            }
        }
    }

    fn person_name(&mut self) -> String {
        self.people += 1;
        let surname = if self.people % 5 == 2 {
            self.pick(COMPOUND_SURNAMES)
        } else {
            self.pick(SURNAMES)
        };
        let mut name = surname.to_owned();
        name.push_str(self.pick(GIVEN));
        if self.rng.gen_bool(0.6) {
            name.push_str(self.pick(GIVEN));
        }
        name
    }

    fn mobile(&mut self) -> String {
        format!("1{}{}", self.rng.gen_range(3..=9), self.digits(9))
    }

    fn person_ref(&mut self, d: &District) -> PersonRef {
        PersonRef {
            name: self.person_name(),
            id_number: Some(self.id_number(d.code)),
            phone: Some(self.mobile()),
        }
    }

    fn dishonest(&mut self, d: &District, rep: Option<PersonRef>) -> DishonestEntry {
        let year = self.rng.gen_range(2021..=2025);
        let seq = self.next_seq();
        let amount = self.rng.gen_range(2..500) * 1000;
        DishonestEntry {
            case_no: format!("({year}){}执{seq}号", d.court),
            court: format!("{}{}人民法院", d.city, d.district),
            obligation: format!("支付货款{amount}元及利息"),
            performance: self.pick(PERFORMANCE).to_owned(),
            circumstances: self
                .rng
                .gen_bool(0.7)
                .then(|| self.pick(CIRCUMSTANCES).to_owned()),
            published_on: self.date((year + 1, 1, 1), (2026, 9, 30)),
            legal_representative: rep,
        }
    }

    fn person(&mut self, d: &District, score: Option<(&'static str, u32)>, i: usize) -> SimPerson {
        let id = self.id_number(d.code);
        let name = self.person_name();
        let phone = self.mobile();
        let sanctioned = i % 4 == 1;
        let n = if sanctioned {
            self.rng.gen_range(1..=2)
        } else {
            0
        };
        let dishonest = (0..n).map(|_| self.dishonest(d, None)).collect();
        let score = score.map(|(scheme, value)| SimScore {
            scheme,
            value,
            issued_at: self.date((2026, 10, 1), (2026, 10, 31)),
        });
        let platform = PlatformId::owner_of(d.code).unwrap_or(PlatformId::Zhejiang);
        SimPerson {
            id,
            region: d.code.to_owned(),
            platform,
            name,
            phone,
            score,
            dishonest,
        }
    }
}
