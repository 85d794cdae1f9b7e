//! Limit windows: fixed windows aligned to the Unix epoch (minute, hour, day) for rate limits,
//! UTC calendar days and months for budgets. Every proxy computes the same window from the
//! clock alone, so global counters need no coordination beyond Redis (proxies' clocks are
//! assumed NTP-synchronised).
//!
//! Fixed windows are exact (a counter never admits more than its limit within one window) at
//! the price of allowing up to twice the limit across a window boundary; a sliding window
//! would need a second counter read per admission.

use switchyard_crds::policy::{BudgetWindow, LimitWindow};

/// How a limit's time is cut into windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// Fixed windows of this many seconds, aligned to the epoch.
    Fixed(u64),
    /// UTC calendar months.
    Month,
}

impl From<LimitWindow> for Period {
    fn from(window: LimitWindow) -> Self {
        Self::Fixed(match window {
            LimitWindow::Minute => 60,
            LimitWindow::Hour => 3600,
            LimitWindow::Day => 86_400,
        })
    }
}

impl From<BudgetWindow> for Period {
    fn from(window: BudgetWindow) -> Self {
        match window {
            BudgetWindow::Day => Self::Fixed(86_400),
            BudgetWindow::Month => Self::Month,
        }
    }
}

/// The window a moment falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Identifies the window among its period's (part of counter keys).
    pub id: u64,
    /// Seconds until the window ends (at least 1).
    pub reset_secs: u64,
}

impl Period {
    /// The window `now` (Unix seconds) falls in.
    pub fn window(self, now: u64) -> Window {
        let (id, end) = match self {
            Self::Fixed(secs) => {
                let id = now / secs;
                (id, (id + 1) * secs)
            }
            Self::Month => {
                let (year, month) = year_month(now / 86_400);
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                let id = year * 12 + (month - 1);
                (id, days_from_civil(next_year, next_month) * 86_400)
            }
        };
        Window {
            id,
            reset_secs: end.saturating_sub(now).max(1),
        }
    }

    /// The period in words, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Fixed(60) => "minute",
            Self::Fixed(3600) => "hour",
            Self::Fixed(86_400) => "day",
            Self::Fixed(_) => "window",
            Self::Month => "month",
        }
    }
}

/// The (year, month) of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn year_month(days: u64) -> (u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month)
}

/// Days from 1970-01-01 to the first of `month` of `year` (Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// A duration the way OpenAI's `x-ratelimit-reset-*` headers write it: `1s`, `6m0s`, `1h2m3s`.
pub fn openai_duration(secs: u64) -> String {
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_windows_are_aligned_to_the_epoch() {
        let minute = Period::from(LimitWindow::Minute);
        assert_eq!(
            minute.window(120),
            Window {
                id: 2,
                reset_secs: 60
            }
        );
        assert_eq!(
            minute.window(179),
            Window {
                id: 2,
                reset_secs: 1
            }
        );
        let day = Period::from(LimitWindow::Day);
        assert_eq!(day.window(86_400 + 3600).reset_secs, 82_800);
    }

    #[test]
    fn months_follow_the_utc_calendar() {
        // 2024-02-29T12:00:00Z: a leap-year February; March starts 12 hours later.
        let leap = 1_709_208_000;
        let window = Period::Month.window(leap);
        assert_eq!(window.reset_secs, 12 * 3600);
        assert_eq!(window.id, 2024 * 12 + 1);
        // 2023-12-31T23:59:59Z: one second before January of the next year.
        let window = Period::Month.window(1_704_067_199);
        assert_eq!(
            window,
            Window {
                id: 2023 * 12 + 11,
                reset_secs: 1
            }
        );
        assert_eq!(Period::Month.window(1_704_067_200).id, 2024 * 12);
    }

    #[test]
    fn durations_are_written_like_openais_reset_headers() {
        assert_eq!(openai_duration(1), "1s");
        assert_eq!(openai_duration(360), "6m0s");
        assert_eq!(openai_duration(3723), "1h2m3s");
    }
}
