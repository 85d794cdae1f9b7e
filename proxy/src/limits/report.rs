//! What a response says about the caller's limits, on successes and refusals alike:
//! OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the most restrictive
//! request and token limits (the least remaining), and
//! `x-switchyard-budget-remaining-usd` for the most restrictive budget. Remaining counts
//! include this request's reservation.

use pingora::http::ResponseHeader;

use super::{counters::Unit, window::openai_duration};

/// One limit's state after an admission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Quota {
    limit: u64,
    remaining: u64,
    reset_secs: u64,
}

/// The most restrictive limits of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    requests: Option<Quota>,
    tokens: Option<Quota>,
    budget_nano_usd: Option<u64>,
}

impl Report {
    /// Takes a counter into account: `used` includes this request's reservation.
    pub fn add(&mut self, unit: Unit, max: u64, used: u64, reset_secs: u64) {
        let quota = Quota {
            limit: max,
            remaining: max.saturating_sub(used),
            reset_secs,
        };
        let slot = match unit {
            Unit::Requests => &mut self.requests,
            Unit::Tokens => &mut self.tokens,
            Unit::NanoUsd => {
                let least = self
                    .budget_nano_usd
                    .map_or(quota.remaining, |r| r.min(quota.remaining));
                self.budget_nano_usd = Some(least);
                return;
            }
        };
        if slot.is_none_or(|current| quota.remaining < current.remaining) {
            *slot = Some(quota);
        }
    }

    /// Writes the headers.
    pub fn write(&self, header: &mut ResponseHeader) -> pingora::Result<()> {
        for (quota, [limit, remaining, reset]) in [
            (
                self.requests,
                [
                    "x-ratelimit-limit-requests",
                    "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests",
                ],
            ),
            (
                self.tokens,
                [
                    "x-ratelimit-limit-tokens",
                    "x-ratelimit-remaining-tokens",
                    "x-ratelimit-reset-tokens",
                ],
            ),
        ] {
            if let Some(quota) = quota {
                header.insert_header(limit, quota.limit.to_string())?;
                header.insert_header(remaining, quota.remaining.to_string())?;
                header.insert_header(reset, openai_duration(quota.reset_secs))?;
            }
        }
        if let Some(nano) = self.budget_nano_usd {
            header.insert_header("x-switchyard-budget-remaining-usd", usd_text(nano))?;
        }
        Ok(())
    }
}

/// Nano-dollars as USD with six decimals (`0.012345`).
pub fn usd_text(nano: u64) -> String {
    format!(
        "{}.{:06}",
        nano / 1_000_000_000,
        nano % 1_000_000_000 / 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_remaining_limit_of_each_unit_is_reported() {
        let mut report = Report::default();
        report.add(Unit::Requests, 100, 10, 30);
        report.add(Unit::Requests, 20, 15, 3000);
        report.add(Unit::Tokens, 1000, 1200, 5);
        report.add(Unit::NanoUsd, 5_000_000_000, 1_250_000_000, 60);
        let mut header = ResponseHeader::build(200, None).unwrap();
        report.write(&mut header).unwrap();
        let get = |name: &str| {
            header
                .headers
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(get("x-ratelimit-limit-requests"), "20");
        assert_eq!(get("x-ratelimit-remaining-requests"), "5");
        assert_eq!(get("x-ratelimit-reset-requests"), "50m0s");
        assert_eq!(
            get("x-ratelimit-remaining-tokens"),
            "0",
            "an overrun shows as none left"
        );
        assert_eq!(get("x-switchyard-budget-remaining-usd"), "3.750000");
    }
}
