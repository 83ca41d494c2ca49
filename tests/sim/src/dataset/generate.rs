//! The generator behind [`Dataset::generate`](super::Dataset::generate).

use std::collections::HashSet;

use credgate_policy::canonical::{
    AbnormalEntry, Basic, Commitment, DishonestEntry, Evaluation, License, ListEntry, Penalty,
    PersonRef, Repair,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::pools::*;
use super::{ExtraSubject, SimEnterprise, SimPerson, SimScore, AS_OF_DATE};
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

    fn enterprise(
        &mut self,
        d: &District,
        sanction: Option<Sanction>,
        j: usize,
        legacy: bool,
    ) -> SimEnterprise {
        let uscc = if legacy {
            self.legacy_uscc(d.code)
        } else {
            self.uscc(d.code)
        };
        let place = format!("{}{}", d.city, d.district);
        let (form, etype) = self.pick(FORMS);
        let name = loop {
            let n = format!(
                "{}{}{}{form}",
                d.short_city,
                self.pick(TRADE_WORDS),
                self.pick(INDUSTRIES)
            );
            if self.names.insert(n.clone()) {
                break n;
            }
        };
        let rep = self.person_ref(d);
        let capital_fen = i64::from(self.pick(&[50u32, 100, 200, 500, 1000, 3000])) * 1_000_000
            + if j % 5 == 4 {
                self.rng.gen_range(1..1_000_000)
            } else {
                0
            };
        let landline = format!("{}-8{}", d.area_code, self.digits(7));
        let basic = Basic {
            name,
            uscc: uscc.clone(),
            enterprise_type: Some(etype.to_owned()),
            status: Some(
                if sanction.is_some() && j % 2 == 1 {
                    "吊销"
                } else {
                    "存续"
                }
                .to_owned(),
            ),
            legal_representative: rep.clone(),
            registered_capital_cny: Some(capital_fen as f64 / 100.0),
            established_on: Some(self.date((2003, 1, 1), (2022, 12, 31))),
            registered_address: Some(format!(
                "{place}{}{}号{}室",
                self.pick(ROADS),
                self.rng.gen_range(1..999),
                self.rng.gen_range(101..2999)
            )),
            business_scope: (j % 4 != 3).then(|| self.pick(SCOPES).to_owned()),
            registration_authority: Some(format!("{place}市场监督管理局")),
            contact_phone: Some(if self.rng.gen_bool(0.5) {
                rep.phone.clone().unwrap_or_default()
            } else {
                landline
            }),
            bank_account: (j % 4 != 3).then(|| format!("3901{}", self.digits(15))),
        };

        let licenses = (0..self.rng.gen_range(1..=3))
            .map(|_| {
                let (lname, category) = self.pick(LICENSES);
                let decided = self.date((2018, 1, 1), (2026, 9, 30));
                let registration = category == "登记";
                License {
                    license_no: format!(
                        "{}{}许〔{}〕{}号",
                        d.short_city,
                        d.district,
                        &decided[..4],
                        self.next_seq()
                    ),
                    name: lname.to_owned(),
                    category: Some(category.to_owned()),
                    content: self
                        .rng
                        .gen_bool(0.7)
                        .then(|| format!("{lname}：许可范围详见证书")),
                    authority: format!("{place}市场监督管理局"),
                    valid_from: Some(decided.clone()),
                    valid_to: (!registration).then(|| add_years(&decided, 5)),
                    decided_on: decided,
                }
            })
            .collect();

        let n_pen = if sanction == Some(Sanction::Blacklist) {
            self.rng.gen_range(1..=2)
        } else {
            self.rng.gen_range(0..=2)
        };
        let penalties: Vec<Penalty> = (0..n_pen)
            .map(|_| {
                let (ptype, fine, basis, content, kind) = self.pick(PENALTIES);
                let decided = self.date((2020, 1, 1), (2026, 9, 30));
                let fen = if self.rng.gen_bool(0.8) {
                    self.rng.gen_range(5..2000) * 10_000
                } else {
                    self.rng.gen_range(100_000..9_999_999)
                };
                Penalty {
                    decision_no: format!(
                        "{}{}罚决字〔{}〕第{}号",
                        d.short_city,
                        d.district,
                        &decided[..4],
                        self.next_seq()
                    ),
                    penalty_type: ptype.to_owned(),
                    basis: basis.to_owned(),
                    content: content.to_owned(),
                    amount_cny: fine.then_some(fen as f64 / 100.0),
                    authority: format!("{place}{kind}"),
                    publish_until: (ptype != "警告").then(|| add_years(&decided, 3)),
                    decided_on: decided,
                    legal_representative: self.rng.gen_bool(0.5).then(|| rep.clone()),
                }
            })
            .collect();

        let tax = format!("国家税务总局{}税务局", d.city);
        let authority = |kind: &str| {
            if kind == "税务局" {
                tax.clone()
            } else {
                format!("{place}{kind}")
            }
        };
        let mut redlist = Vec::new();
        if sanction.is_none() && self.rng.gen_bool(0.5) {
            let (lname, basis, kind) = self.pick(REDLISTS);
            let listed = self.date((2023, 1, 1), (2026, 6, 30));
            redlist.push(ListEntry {
                list_name: lname.to_owned(),
                basis: basis.to_owned(),
                authority: authority(kind),
                expires_on: Some(add_years(&listed, 2)),
                listed_on: listed,
                measures: Some(MEASURES[1].to_owned()),
            });
        }

        let mut blacklist = Vec::new();
        let mut repairs = Vec::new();
        if sanction == Some(Sanction::Blacklist) || (sanction.is_none() && j % 3 == 1) {
            let current = sanction.is_some();
            let (lname, basis, kind) = self.pick(BLACKLISTS);
            let listed = if current {
                self.date((2024, 1, 1), (2026, 9, 30))
            } else {
                self.date((2019, 1, 1), (2021, 6, 30))
            };
            let expires = if current {
                self.rng
                    .gen_bool(0.5)
                    .then(|| add_years(&listed, 3).max("2027-01-01".to_owned()))
            } else {
                Some(add_years(&listed, 3))
            };
            if !current {
                repairs.push(Repair {
                    repaired_record: format!("{}-HMD-{}", d.code, self.next_seq()),
                    kind: "blacklist".into(),
                    repaired_on: add_years(&listed, 2),
                    authority: authority(kind),
                    result: "移出严重失信主体名单".into(),
                });
            }
            blacklist.push(ListEntry {
                list_name: lname.to_owned(),
                basis: basis.to_owned(),
                authority: authority(kind),
                listed_on: listed,
                expires_on: expires,
                measures: Some(MEASURES[0].to_owned()),
            });
        }

        let dishonest = if sanction == Some(Sanction::Dishonest) {
            let n = self.rng.gen_range(1..=2);
            (0..n)
                .map(|_| {
                    let r = self.rng.gen_bool(0.6).then(|| rep.clone());
                    self.dishonest(d, r)
                })
                .collect()
        } else {
            Vec::new()
        };

        let mut abnormal = Vec::new();
        if sanction == Some(Sanction::Abnormal) || (sanction.is_none() && j % 3 == 2) {
            let current = sanction.is_some();
            let listed = self.date((2022, 1, 1), (2025, 12, 31));
            let removed = (!current).then(|| self.date((2026, 1, 1), (2026, 9, 30)));
            if let Some(r) = &removed {
                repairs.push(Repair {
                    repaired_record: format!("{}-JYYC-{}", d.code, self.next_seq()),
                    kind: "abnormal".into(),
                    repaired_on: r.clone(),
                    authority: format!("{place}市场监督管理局"),
                    result: "移出经营异常名录".into(),
                });
            }
            abnormal.push(AbnormalEntry {
                reason: self.pick(ABNORMAL_REASONS).to_owned(),
                authority: format!("{place}市场监督管理局"),
                listed_on: listed,
                removal_reason: removed
                    .is_some()
                    .then(|| self.pick(ABNORMAL_REMOVALS).to_owned()),
                removed_on: removed,
            });
        }
        if sanction.is_none() {
            if let Some(p) = penalties.first() {
                if self.rng.gen_bool(0.5) {
                    repairs.push(Repair {
                        repaired_record: p.decision_no.clone(),
                        kind: "penalty".into(),
                        repaired_on: self
                            .date((2026, 1, 1), (2026, 10, 15))
                            .max(p.decided_on.clone()),
                        authority: p.authority.clone(),
                        result: "停止公示".into(),
                    });
                }
            }
        }

        let commitments = (0..self.rng.gen_range(0..=2))
            .map(|_| Commitment {
                kind: self.pick(COMMITMENT_KINDS).to_owned(),
                content: self.pick(COMMITMENT_CONTENTS).to_owned(),
                made_on: self.date((2022, 1, 1), (2026, 9, 30)),
                status: self.pick(COMMITMENT_STATUS).to_owned(),
            })
            .collect();

        let evaluator = if d.code.starts_with("35") {
            "厦门市公共信用信息平台"
        } else {
            "浙江省公共信用信息平台"
        };
        let evaluation = (j % 5 != 2).then(|| {
            let level = if sanction.is_some() {
                self.pick(&["C", "D"])
            } else {
                self.pick(&["A", "B"])
            };
            let on = self.date((2026, 1, 1), (2026, 9, 30));
            Evaluation {
                level: level.to_owned(),
                evaluator: evaluator.to_owned(),
                valid_until: self.rng.gen_bool(0.7).then(|| add_years(&on, 1)),
                evaluated_on: on,
            }
        });

        let platform = PlatformId::owner_of(d.code).unwrap_or(PlatformId::Zhejiang);
        let e = SimEnterprise {
            uscc,
            region: d.code.to_owned(),
            platform,
            legacy,
            basic,
            licenses,
            penalties,
            redlist,
            blacklist,
            dishonest,
            abnormal,
            commitments,
            repairs,
            evaluation,
        };
        debug_assert!(e
            .listings()
            .iter()
            .all(|l| l.listed_on.as_str() <= AS_OF_DATE));
        e
    }
}
