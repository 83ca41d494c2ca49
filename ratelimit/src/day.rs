//! Calendar days in the limiter's time zone, for daily quotas.
//!
//! The zone is a fixed UTC offset (default `+08:00`, China Standard Time: Asia/Shanghai has
//! had no daylight saving time since 1991, so a fixed offset is exact for it). A zone with
//! DST would need a tz database; credgate does not need one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, UtcOffset};

use crate::error::LimiterError;

const SECS_PER_DAY: i64 = 86_400;
/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// The calendar day containing an instant, in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day {
    /// Days since 1970-01-01 in the zone (the counter's identity in process).
    pub number: i64,
    /// `YYYYMMDD` (the Redis key suffix).
    pub label: u32,
    /// Unix time (s) of the start of the next day in the zone: the quota resets then.
    pub next_start_unix: i64,
}

// === impl Day ===

impl Day {
    /// The day containing `now` in `zone`.
    pub fn containing(now: SystemTime, zone: UtcOffset) -> Result<Self, LimiterError> {
        let secs = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).map_err(|_| LimiterError::ClockOutOfRange)?,
            // Before 1970: whole seconds rounded towards the past.
            Err(e) => {
                let back = e.duration();
                let whole =
                    i64::try_from(back.as_secs()).map_err(|_| LimiterError::ClockOutOfRange)?;
                -whole - i64::from(back.subsec_nanos() > 0)
            }
        };
        let offset = i64::from(zone.whole_seconds());
        let number = (secs + offset).div_euclid(SECS_PER_DAY);
        let julian = i32::try_from(number + UNIX_EPOCH_JULIAN_DAY)
            .map_err(|_| LimiterError::ClockOutOfRange)?;
        let date = Date::from_julian_day(julian).map_err(|_| LimiterError::ClockOutOfRange)?;
        let year = u32::try_from(date.year()).map_err(|_| LimiterError::ClockOutOfRange)?;
        Ok(Self {
            number,
            label: year * 10_000 + u32::from(u8::from(date.month())) * 100 + u32::from(date.day()),
            next_start_unix: (number + 1) * SECS_PER_DAY - offset,
        })
    }

    /// The instant the next day starts.
    pub fn next_start(&self) -> SystemTime {
        match u64::try_from(self.next_start_unix) {
            Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs),
            Err(_) => UNIX_EPOCH - Duration::from_secs(self.next_start_unix.unsigned_abs()),
        }
    }

    /// Time from `now` until the next day starts (zero if `now` is already past it).
    pub fn until_next(&self, now: SystemTime) -> Duration {
        self.next_start().duration_since(now).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> UtcOffset {
        UtcOffset::from_hms(8, 0, 0).unwrap()
    }

    #[test]
    fn a_shanghai_day_starts_at_16_00_utc() {
        // 2025-03-01T15:59:59Z = 23:59:59 on 1 March in Shanghai.
        let before = UNIX_EPOCH + Duration::from_secs(1_740_844_799);
        let day = Day::containing(before, shanghai()).unwrap();
        assert_eq!(day.label, 20250301);
        assert_eq!(day.next_start_unix, 1_740_844_800);
        assert_eq!(day.until_next(before), Duration::from_secs(1));
        let after = before + Duration::from_secs(1);
        let next = Day::containing(after, shanghai()).unwrap();
        assert_eq!((next.label, next.number), (20250302, day.number + 1));
        assert_eq!(next.next_start_unix, 1_740_844_800 + 86_400);
    }

    #[test]
    fn utc_and_negative_offsets_and_leap_days() {
        let at = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29T00:00:00Z
        assert_eq!(Day::containing(at, UtcOffset::UTC).unwrap().label, 20000229);
        let west = UtcOffset::from_hms(-5, 0, 0).unwrap();
        assert_eq!(Day::containing(at, west).unwrap().label, 20000228);
        let early = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(
            Day::containing(early, UtcOffset::UTC).unwrap().label,
            19691231
        );
    }
}
