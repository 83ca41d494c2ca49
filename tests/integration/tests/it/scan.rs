//! Scanners for personal data in response bodies and files: any valid
//! 18-character ID number, any 11-digit mainland mobile number.

use credgate_policy::ids::IdNumber;

/// Every valid ID number (GB 11643 check passes) found in `text`.
pub fn id_numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for i in 0..chars.len() {
        if i + 18 > chars.len() {
            break;
        }
        let cand: String = chars[i..i + 18].iter().collect();
        if cand.chars().take(17).all(|c| c.is_ascii_digit()) && IdNumber::parse(&cand).is_ok() {
            out.push(cand);
        }
    }
    out
}

/// Every run of exactly 11 digits starting `1[3-9]` (a mobile number).
pub fn mobiles(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() == 11 && run.starts_with('1') && (b'3'..=b'9').contains(&run.as_bytes()[1])
            {
                out.push(run.to_owned());
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn scanners_find_what_they_should() {
    let text = "x 11010519491231002X y 13812345678 z 138123456789 330203********1234";
    assert_eq!(id_numbers(text), vec!["11010519491231002X".to_string()]);
    assert_eq!(mobiles(text), vec!["13812345678".to_string()]);
}
