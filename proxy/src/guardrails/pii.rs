//! Personal data redaction: finds e-mail addresses, phone numbers, payment card numbers (Luhn
//! checked), IBANs (ISO 13616 mod-97 checked) and IP addresses in prompt text and replaces
//! each with a placeholder naming its kind, before the prompt leaves the cluster.
//!
//! Kinds run from the most specific to the least (cards and IBANs before phone numbers), so a
//! card number is never half-eaten as a phone number. Checksums keep ordinary numbers (order
//! ids, timestamps) out of the card and IBAN placeholders.

use std::{borrow::Cow, collections::BTreeSet, net::Ipv6Addr, sync::LazyLock};

use regex::{Captures, Regex};
use switchyard_crds::policy::PiiKind;

/// One detector: a pattern, an optional check of each match, and its placeholder.
struct Detector {
    kind: PiiKind,
    pattern: Regex,
    check: fn(&str) -> bool,
    placeholder: &'static str,
}

fn pattern(text: &str) -> Regex {
    // The patterns are constants covered by the tests below.
    Regex::new(text).unwrap_or_else(|error| unreachable!("PII pattern {text:?}: {error}"))
}

static DETECTORS: LazyLock<[Detector; 6]> = LazyLock::new(|| {
    [
        Detector {
            kind: PiiKind::CreditCard,
            pattern: pattern(r"\b\d(?:[ -]?\d){12,18}\b"),
            check: luhn,
            placeholder: "[CREDIT_CARD]",
        },
        Detector {
            kind: PiiKind::Iban,
            pattern: pattern(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
            check: iban,
            placeholder: "[IBAN]",
        },
        Detector {
            kind: PiiKind::Email,
            pattern: pattern(
                r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
            ),
            check: |_| true,
            placeholder: "[EMAIL]",
        },
        Detector {
            kind: PiiKind::IpAddress,
            pattern: pattern(
                r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
            ),
            check: |_| true,
            placeholder: "[IP_ADDRESS]",
        },
        Detector {
            kind: PiiKind::IpAddress,
            pattern: pattern(r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"),
            check: ipv6,
            placeholder: "[IP_ADDRESS]",
        },
        Detector {
            kind: PiiKind::Phone,
            pattern: pattern(
                r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}\b",
            ),
            check: phone,
            placeholder: "[PHONE]",
        },
    ]
});

/// Redacts the kinds a policy names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Redactor {
    kinds: BTreeSet<PiiKind>,
}

impl Redactor {
    /// A redactor for `kinds` (none: redacts nothing).
    pub fn new(kinds: &BTreeSet<PiiKind>) -> Self {
        Self {
            kinds: kinds.clone(),
        }
    }

    /// Whether it redacts anything at all.
    pub fn is_active(&self) -> bool {
        !self.kinds.is_empty()
    }

    /// `text` with every finding replaced; borrowed when nothing was found.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.redact_reporting(text, |_| {})
    }

    /// [`Redactor::redact`], calling `found` with the kind of each replaced finding (for the
    /// redaction metric).
    pub fn redact_reporting<'a>(
        &self,
        text: &'a str,
        mut found: impl FnMut(PiiKind),
    ) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for detector in DETECTORS.iter().filter(|d| self.kinds.contains(&d.kind)) {
            let replaced = detector.pattern.replace_all(&text, |hit: &Captures<'_>| {
                let matched = &hit[0];
                if (detector.check)(matched) {
                    found(detector.kind);
                    detector.placeholder.to_owned()
                } else {
                    matched.to_owned()
                }
            });
            if let Cow::Owned(replaced) = replaced {
                text = Cow::Owned(replaced);
            }
        }
        text
    }
}

/// The metric label of a kind (its name in the AIPolicy).
pub const fn kind_label(kind: PiiKind) -> &'static str {
    match kind {
        PiiKind::Email => "email",
        PiiKind::Phone => "phone",
        PiiKind::CreditCard => "credit-card",
        PiiKind::Iban => "iban",
        PiiKind::IpAddress => "ip-address",
    }
}

fn digits(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.chars().filter_map(|c| c.to_digit(10))
}

/// The Luhn checksum of payment card numbers.
fn luhn(text: &str) -> bool {
    let numbers: Vec<u32> = digits(text).collect();
    if !(13..=19).contains(&numbers.len()) {
        return false;
    }
    let sum: u32 = numbers
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ISO 13616 check: the country and check digits moved to the end, letters as numbers,
/// the whole modulo 97 is 1.
fn iban(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder = 0u32;
    for c in tail.chars().chain(head.chars()) {
        let value = match c.to_digit(36) {
            Some(value) => value,
            None => return false,
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
}

/// An IPv6 address, not a path like `std::vec` or `a::b`: it parses, has two or more groups
/// and a decimal digit somewhere.
fn ipv6(text: &str) -> bool {
    let groups = text.split(':').filter(|g| !g.is_empty()).count();
    groups >= 2 && text.chars().any(|c| c.is_ascii_digit()) && text.parse::<Ipv6Addr>().is_ok()
}

/// Phone numbers have 7 to 15 digits (E.164); shorter runs are years, prices and counts.
fn phone(text: &str) -> bool {
    let count = digits(text).count();
    (7..=15).contains(&count)
        && (text.starts_with('+') || text.contains(['-', ' ', '.', '(']) || count >= 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Redactor {
        Redactor::new(
            &[
                PiiKind::Email,
                PiiKind::Phone,
                PiiKind::CreditCard,
                PiiKind::Iban,
                PiiKind::IpAddress,
            ]
            .into(),
        )
    }

    #[test]
    fn each_kind_is_replaced_by_its_placeholder() {
        let cases = [
            ("fe80::1ff:fe23:4567:890a is local", "[IP_ADDRESS] is local"),
            ("mail jane.doe+ai@example.co.uk now", "mail [EMAIL] now"),
            ("card 4111 1111 1111 1111 ok", "card [CREDIT_CARD] ok"),
            ("card 4111-1111-1111-1111", "card [CREDIT_CARD]"),
            (
                "iban DE89 3704 0044 0532 0130 00 thanks",
                "iban [IBAN] thanks",
            ),
            ("iban GB82WEST12345698765432", "iban [IBAN]"),
            (
                "from 192.168.10.254 and 2001:db8::1",
                "from [IP_ADDRESS] and [IP_ADDRESS]",
            ),
            (
                "call +1 415-555-0132 or (030) 1234 5678",
                "call [PHONE] or [PHONE]",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(all().redact(text), expected, "{text}");
        }
    }

    #[test]
    fn numbers_that_fail_their_checksum_stay() {
        let redactor = all();
        // Luhn fails: an order id, not a card.
        assert_eq!(
            redactor.redact("order 4111111111111112"),
            "order 4111111111111112"
        );
        // mod-97 fails.
        assert_eq!(
            redactor.redact("ref DE89370400440532013001"),
            "ref DE89370400440532013001"
        );
        for plain in [
            "in 2024 we sold 1500 units",
            "version 1.2.3",
            "costs 12.50",
            "at 10:30",
            "use std::vec::Vec; a::b and face::bead",
        ] {
            assert_eq!(redactor.redact(plain), plain);
        }
    }

    #[test]
    fn only_the_named_kinds_are_redacted_and_clean_text_is_not_copied() {
        let emails = Redactor::new(&[PiiKind::Email].into());
        assert_eq!(
            emails.redact("a@b.io 4111 1111 1111 1111"),
            "[EMAIL] 4111 1111 1111 1111"
        );
        assert!(matches!(emails.redact("nothing here"), Cow::Borrowed(_)));
        assert!(!Redactor::default().is_active());
        assert_eq!(Redactor::default().redact("a@b.io"), "a@b.io");
    }
}
