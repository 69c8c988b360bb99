//! What a query says about time: a date it names ("in June", "on 13 October, 2023", "July
//! 2023") and whether it asks when something happened. Pure; UTC throughout.

use crate::time::{civil_date, days_from_civil, Millis};

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month (1..=12) an English month name names, in any case ("May", "october").
pub fn month_number(name: &str) -> Option<u32> {
    let lower = name.to_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

/// Words that place a memory in time ("yesterday", "last Friday", "two weeks ago").
const TIME_WORDS: [&str; 24] = [
    "yesterday",
    "today",
    "tonight",
    "tomorrow",
    "ago",
    "last",
    "week",
    "weekend",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "morning",
    "evening",
    "recently",
    "since",
];

/// A date named in a query: a month, with the year and day when they are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateCue {
    /// 1..=12.
    pub month: u32,
    /// The year, when the query gives one next to the month.
    pub year: Option<i64>,
    /// The day of the month, when the query gives one next to the month.
    pub day: Option<u32>,
}

/// The dates a query names. A month name counts when it is a month for sure: any month but
/// "May" in any case, and "May" only capitalised and not as the first word ("May I ..."). A
/// number beside it is its day (1..=31) or its year (1000..=9999).
pub fn date_cues(query: &str) -> Vec<DateCue> {
    let words: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let number = |i: Option<usize>| {
        i.and_then(|i| words.get(i))
            .and_then(|w| w.parse::<i64>().ok())
    };
    let mut cues = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(month) = month_number(word) else {
            continue;
        };
        if month == 5 && (i == 0 || *word != "May") {
            continue;
        }
        let around = [i.checked_sub(1), Some(i + 1), Some(i + 2)];
        let day = around
            .iter()
            .take(2)
            .filter_map(|j| number(*j))
            .find(|n| (1..=31).contains(n))
            .map(|n| n as u32);
        let year = around
            .iter()
            .filter_map(|j| number(*j))
            .find(|n| (1000..=9999).contains(n));
        cues.push(DateCue { month, year, day });
    }
    cues
}

impl DateCue {
    /// Whether `at` falls in the named month (of the named year, when given), and within a day
    /// of the named day when one is given.
    pub fn matches(&self, at: Millis) -> bool {
        let (year, month, day) = civil_date(at);
        if month != self.month || self.year.is_some_and(|y| y != year) {
            return false;
        }
        match self.day {
            None => true,
            Some(d) => {
                let named = days_from_civil(year, self.month, d);
                (days_from_civil(year, month, day) - named).abs() <= 1
            }
        }
    }
}

/// Whether the query asks when something happened ("When did ...", "what date ...").
pub fn asks_when(query_words: &[String]) -> bool {
    query_words.iter().any(|w| w == "when" || w == "date")
}

/// Whether a text places what it says in time (a time word or a year).
pub fn mentions_time(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| {
            let lower = w.to_lowercase();
            TIME_WORDS.contains(&lower.as_str())
                || MONTHS.contains(&lower.as_str()) && lower != "may"
                || (w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_days_and_years_are_read_from_questions() {
        let cue = |q: &str| date_cues(q);
        assert_eq!(
            cue("When did Melanie go camping in June?"),
            [DateCue {
                month: 6,
                year: None,
                day: None
            }]
        );
        assert_eq!(
            cue("What painting did she show on October 13, 2023?"),
            [DateCue {
                month: 10,
                year: Some(2023),
                day: Some(13)
            }]
        );
        assert_eq!(
            cue("What did Gina find on 1 February, 2023?"),
            [DateCue {
                month: 2,
                year: Some(2023),
                day: Some(1)
            }]
        );
        assert!(cue("May I ask what you may need?").is_empty());
        assert_eq!(cue("What happened in May 2023?")[0].year, Some(2023));
    }

    #[test]
    fn a_cue_matches_its_month_year_and_day() {
        let at = 1_683_554_160_000; // 8 May 2023
        let may = DateCue {
            month: 5,
            year: None,
            day: None,
        };
        assert!(may.matches(at));
        assert!(!DateCue { month: 6, ..may }.matches(at));
        assert!(!DateCue {
            year: Some(2022),
            ..may
        }
        .matches(at));
        assert!(DateCue {
            day: Some(9),
            ..may
        }
        .matches(at));
        assert!(!DateCue {
            day: Some(11),
            ..may
        }
        .matches(at));
    }

    #[test]
    fn time_words_and_when_questions() {
        assert!(mentions_time("I went to a support group yesterday"));
        assert!(mentions_time("back in 2019"));
        assert!(!mentions_time("I love painting"));
        assert!(asks_when(&["when".to_owned(), "did".to_owned()]));
    }
}
