//! Generating one enterprise and its records.

use credgate_policy::canonical::{
    AbnormalEntry, Basic, Commitment, Evaluation, License, ListEntry, Penalty, Repair,
};
use rand::Rng;

use super::super::pools::*;
use super::super::{SimEnterprise, AS_OF_DATE};
use super::{add_years, Gen, Sanction};
use crate::platform::PlatformId;

impl Gen {
    pub(super) fn enterprise(
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
