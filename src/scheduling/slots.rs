//! Slot search: the one pure function that decides when a pro is free. The
//! slot list and the booking check both call it, so they cannot disagree.
//!
//! Working hours are wall-clock times in the territory's time zone. On the
//! spring change the missing hour has no slots; on the autumn change the hour
//! that happens twice has slots in both (told apart by their UTC offsets).

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Slots start on this grid of minutes within a working interval.
pub const SLOT_STEP_MINUTES: i64 = 15;

/// A weekly working interval: ISO weekday (1 = Monday) and local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyHours {
    pub weekday: u32,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
}

/// A change to one date: time off (all day when no times) or extra hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateException {
    Off { date: NaiveDate, starts: Option<NaiveTime>, ends: Option<NaiveTime> },
    Extra { date: NaiveDate, starts: NaiveTime, ends: NaiveTime },
}

/// Everything about one pro that decides its free time.
#[derive(Debug, Clone, Default)]
pub struct ProCalendar {
    pub weekly: Vec<WeeklyHours>,
    pub exceptions: Vec<DateException>,
    /// Travel time kept free after each appointment.
    pub buffer_minutes: i64,
    /// Time already taken (held, awaiting the pro, confirmed), buffers included.
    pub busy: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// What is asked: which local dates, how long, and from when.
#[derive(Debug, Clone, Copy)]
pub struct SlotRequest {
    pub zone: Tz,
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    pub duration_minutes: i64,
    /// No slot starts before this (now plus the minimum notice).
    pub earliest: DateTime<Utc>,
    /// No slot starts after this (now plus the booking horizon).
    pub latest: DateTime<Utc>,
}

/// Local wall-clock time to an instant: in a gap (spring), the first instant
/// after it; when it happens twice (autumn), the earlier for a start and the
/// later for an end, so the interval covers all of its wall-clock span.
fn instant(zone: Tz, local: NaiveDateTime, is_end: bool) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(early, late) => Some(if is_end { late } else { early }.with_timezone(&Utc)),
        LocalResult::None => {
            // Walk forward to the end of the gap (gaps are at most a few hours).
            (1..=240).find_map(|minutes| match zone.from_local_datetime(&(local + Duration::minutes(minutes))) {
                LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                LocalResult::Ambiguous(early, _) => Some(early.with_timezone(&Utc)),
                LocalResult::None => None,
            })
        }
    }
}

/// The pro's working intervals on a local date, as instants.
fn working_intervals(calendar: &ProCalendar, zone: Tz, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let weekday = date.weekday().number_from_monday();
    let mut local: Vec<(NaiveTime, NaiveTime)> =
        calendar.weekly.iter().filter(|h| h.weekday == weekday).map(|h| (h.starts, h.ends)).collect();
    for exception in &calendar.exceptions {
        match *exception {
            DateException::Extra { date: d, starts, ends } if d == date => local.push((starts, ends)),
            _ => {}
        }
    }
    let mut intervals: Vec<(DateTime<Utc>, DateTime<Utc>)> = local
        .into_iter()
        .filter(|(starts, ends)| starts < ends)
        .filter_map(|(starts, ends)| {
            let begin = instant(zone, date.and_time(starts), false)?;
            let end = instant(zone, date.and_time(ends), true)?;
            (begin < end).then_some((begin, end))
        })
        .collect();
    for exception in &calendar.exceptions {
        if let DateException::Off { date: d, starts, ends } = *exception {
            if d != date {
                continue;
            }
            let off_begin = starts.and_then(|t| instant(zone, date.and_time(t), false));
            let off_end = ends.and_then(|t| instant(zone, date.and_time(t), true));
            intervals = match (off_begin, off_end) {
                (Some(b), Some(e)) => subtract(&intervals, (b, e)),
                _ => Vec::new(),
            };
        }
    }
    intervals
}

fn subtract(
    intervals: &[(DateTime<Utc>, DateTime<Utc>)],
    cut: (DateTime<Utc>, DateTime<Utc>),
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    for &(begin, end) in intervals {
        if cut.1 <= begin || end <= cut.0 {
            out.push((begin, end));
            continue;
        }
        if begin < cut.0 {
            out.push((begin, cut.0));
        }
        if cut.1 < end {
            out.push((cut.1, end));
        }
    }
    out
}

/// Every start at which the pro can take an appointment of the requested
/// length: inside its working time, clear of busy time (the appointment plus
/// its travel buffer must not overlap it), within notice and horizon.
pub fn free_starts(calendar: &ProCalendar, request: &SlotRequest) -> Vec<DateTime<Utc>> {
    let duration = Duration::minutes(request.duration_minutes);
    let buffer = Duration::minutes(calendar.buffer_minutes);
    let step = Duration::minutes(SLOT_STEP_MINUTES);
    let mut starts = Vec::new();
    let mut date = request.from;
    while date <= request.to {
        for (begin, end) in working_intervals(calendar, request.zone, date) {
            let mut start = begin;
            while start + duration <= end {
                let blocked = (start, start + duration + buffer);
                let clear = calendar.busy.iter().all(|&(b, e)| blocked.1 <= b || e <= blocked.0);
                if clear && start >= request.earliest && start <= request.latest {
                    starts.push(start);
                }
                start += step;
            }
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    starts.sort();
    starts.dedup();
    starts
}

/// Whether the pro can take an appointment starting at `start`: the same
/// answer the slot list gives.
pub fn is_free(calendar: &ProCalendar, request: &SlotRequest, start: DateTime<Utc>) -> bool {
    free_starts(calendar, request).contains(&start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn every_day(starts: NaiveTime, ends: NaiveTime) -> Vec<WeeklyHours> {
        (1..=7).map(|weekday| WeeklyHours { weekday, starts, ends }).collect()
    }

    fn request(zone: Tz, date: NaiveDate, minutes: i64) -> SlotRequest {
        SlotRequest {
            zone,
            from: date,
            to: date,
            duration_minutes: minutes,
            earliest: DateTime::<Utc>::MIN_UTC,
            latest: DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The last Sunday of a month.
    fn last_sunday(year: i32, month: u32) -> NaiveDate {
        let mut day = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap().pred_opt().unwrap();
        while day.weekday() != Weekday::Sun {
            day = day.pred_opt().unwrap();
        }
        day
    }

    #[test]
    fn every_spring_change_from_2020_to_2040_has_no_slot_in_the_missing_hour() {
        let zone: Tz = "Europe/Amsterdam".parse().unwrap();
        for year in 2020..=2040 {
            let day = last_sunday(year, 3);
            let calendar = ProCalendar { weekly: every_day(time(1, 0), time(4, 0)), ..Default::default() };
            let starts = free_starts(&calendar, &request(zone, day, 60));
            let local: Vec<String> =
                starts.iter().map(|s| s.with_timezone(&zone).format("%H:%M%:z").to_string()).collect();
            // 01:00 CET to 04:00 CEST is two real hours: starts from 01:00 to 03:00 local.
            assert_eq!(local.first().map(String::as_str), Some("01:00+01:00"), "{year}");
            assert_eq!(local.last().map(String::as_str), Some("03:00+02:00"), "{year}");
            assert!(local.iter().all(|s| !s.starts_with("02:")), "{year}: {local:?}");
            assert_eq!(starts.len(), 5, "{year}: {local:?}");
            for pair in starts.windows(2) {
                assert_eq!(pair[1] - pair[0], Duration::minutes(15), "{year}");
            }
        }
    }

    #[test]
    fn every_autumn_change_from_2020_to_2040_offers_the_repeated_hour_twice() {
        let zone: Tz = "Europe/Amsterdam".parse().unwrap();
        for year in 2020..=2040 {
            let day = last_sunday(year, 10);
            let calendar = ProCalendar { weekly: every_day(time(1, 0), time(4, 0)), ..Default::default() };
            let starts = free_starts(&calendar, &request(zone, day, 60));
            let local: Vec<String> =
                starts.iter().map(|s| s.with_timezone(&zone).format("%H:%M%:z").to_string()).collect();
            // Four real hours: 01:00 CEST to 04:00 CET, the 02:xx hour twice.
            assert!(
                local.contains(&"02:30+02:00".to_owned()) && local.contains(&"02:30+01:00".to_owned()),
                "{year}: {local:?}"
            );
            assert_eq!(starts.len(), 13, "{year}: {local:?}");
            assert_eq!(*starts.last().unwrap() - starts[0], Duration::hours(3), "{year}");
        }
    }

    #[test]
    fn a_regular_day_on_a_change_weekend_keeps_its_wall_clock_hours() {
        let zone: Tz = "Europe/Amsterdam".parse().unwrap();
        let day = last_sunday(2026, 3);
        let calendar = ProCalendar { weekly: every_day(time(9, 0), time(12, 0)), ..Default::default() };
        let starts = free_starts(&calendar, &request(zone, day, 60));
        let first = starts[0].with_timezone(&zone);
        assert_eq!(first.format("%H:%M%:z").to_string(), "09:00+02:00");
        assert_eq!(starts.len(), 9);
    }

    #[test]
    fn busy_time_and_the_travel_buffer_block_slots() {
        let zone: Tz = "Europe/Amsterdam".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 6, 10).unwrap();
        let at =
            |h: u32, m: u32| zone.from_local_datetime(&day.and_time(time(h, m))).single().unwrap().with_timezone(&Utc);
        // Booked 10:00-11:00 with a 30-minute buffer: busy until 11:30.
        let calendar = ProCalendar {
            weekly: every_day(time(9, 0), time(13, 0)),
            buffer_minutes: 30,
            busy: vec![(at(10, 0), at(11, 30))],
            ..Default::default()
        };
        let starts = free_starts(&calendar, &request(zone, day, 30));
        // 09:00 fits (09:00-09:30 plus buffer to 10:00); 09:15 would run into the booking's start.
        assert!(starts.contains(&at(9, 0)));
        assert!(!starts.contains(&at(9, 15)));
        assert!(!starts.contains(&at(11, 0)));
        assert!(starts.contains(&at(11, 30)));
        assert!(is_free(&calendar, &request(zone, day, 30), at(11, 30)));
        assert!(!is_free(&calendar, &request(zone, day, 30), at(10, 30)));
    }

    #[test]
    fn time_off_extra_hours_notice_and_horizon_are_respected() {
        let zone: Tz = "Europe/Amsterdam".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 6, 10).unwrap();
        let at =
            |h: u32, m: u32| zone.from_local_datetime(&day.and_time(time(h, m))).single().unwrap().with_timezone(&Utc);
        let calendar = ProCalendar {
            weekly: every_day(time(9, 0), time(12, 0)),
            exceptions: vec![
                DateException::Off { date: day, starts: Some(time(10, 0)), ends: Some(time(11, 0)) },
                DateException::Extra { date: day, starts: time(18, 0), ends: time(19, 0) },
            ],
            ..Default::default()
        };
        let starts = free_starts(&calendar, &request(zone, day, 60));
        assert_eq!(starts, vec![at(9, 0), at(11, 0), at(18, 0)]);
        let whole_day_off = ProCalendar {
            exceptions: vec![DateException::Off { date: day, starts: None, ends: None }],
            ..calendar.clone()
        };
        assert!(free_starts(&whole_day_off, &request(zone, day, 60)).is_empty());
        let limited = SlotRequest { earliest: at(10, 0), latest: at(17, 0), ..request(zone, day, 60) };
        assert_eq!(free_starts(&calendar, &limited), vec![at(11, 0)]);
    }
}
