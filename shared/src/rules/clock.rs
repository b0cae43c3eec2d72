//! Device clocks: how far a clinic PC's clock is believed.
//!
//! An act done offline keeps its own time (a note signed at 18:05 on 31 March stays signed
//! then, whenever it syncs), but a device clock is not trusted blindly. The time an act is
//! recorded with is the device's, bounded:
//! - never after the server received it (a clock set ahead cannot post-date a bill);
//! - never before the author could have acted on that device, less [`CLOCK_TOLERANCE`]
//!   (their device key's registration, or their membership of the clinic), so a clock set
//!   back cannot back-date one into a closed financial year.
//!
//! The server keeps its receipt time beside every such act. The device applies the same
//! tolerance to its own clock at an offline start (`client::session`).

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};

/// India Standard Time (UTC+05:30; India keeps no daylight saving): a clinic's day, an
/// invoice's date and a report's days are days in India, whatever the zone of the PC or the
/// server.
fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).expect("a valid offset")
}

/// The day in India at `at`.
pub fn india_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&ist()).date_naive()
}

/// When `day` begins in India (its midnight, as an instant).
pub fn india_day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN)
        .and_local_timezone(ist())
        .single()
        .expect("a fixed offset has one midnight")
        .with_timezone(&Utc)
}

/// How far a device clock may be behind the last time it was known good before it is
/// treated as turned back (drift and time-zone slips stay well inside this).
pub const CLOCK_TOLERANCE: TimeDelta = TimeDelta::hours(1);

/// The time an act done on a device is recorded with: the device's `claimed` time, no later
/// than the server's `received` time and no earlier than `not_before` less
/// [`CLOCK_TOLERANCE`].
pub fn act_time(
    claimed: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
    received: DateTime<Utc>,
) -> DateTime<Utc> {
    let earliest = not_before.map(|t| (t - CLOCK_TOLERANCE).min(received));
    let at = claimed.min(received);
    match earliest {
        Some(earliest) => at.max(earliest),
        None => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_indian_days() {
        let day: NaiveDate = "2026-03-31".parse().unwrap();
        let start = india_day_start(day);
        assert_eq!(
            start,
            "2026-03-30T18:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(india_date(start), day);
        assert_eq!(
            india_date(start - TimeDelta::seconds(1)),
            day.pred_opt().unwrap()
        );
    }
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 31, h, m, 0).unwrap()
    }

    #[test]
    fn a_plausible_device_time_is_kept() {
        assert_eq!(act_time(t(10, 0), Some(t(9, 0)), t(12, 0)), t(10, 0));
        assert_eq!(act_time(t(10, 0), None, t(12, 0)), t(10, 0));
    }

    #[test]
    fn a_clock_ahead_never_dates_an_act_after_its_receipt() {
        assert_eq!(act_time(t(23, 0), Some(t(9, 0)), t(12, 0)), t(12, 0));
    }

    #[test]
    fn a_clock_behind_is_held_to_the_tolerance_before_the_author_could_act() {
        // Inside the tolerance: kept.
        assert_eq!(act_time(t(8, 30), Some(t(9, 0)), t(12, 0)), t(8, 30));
        // Beyond it: the earliest believable time.
        assert_eq!(act_time(t(1, 0), Some(t(9, 0)), t(12, 0)), t(8, 0));
    }

    #[test]
    fn the_receipt_wins_when_the_bounds_cross() {
        // A key registered "after" the receipt (clocks between servers): never later than it.
        assert_eq!(act_time(t(1, 0), Some(t(14, 0)), t(12, 0)), t(12, 0));
    }
}
