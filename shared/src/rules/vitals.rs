//! Reading a patient's vitals the way a clinician does: which values lie outside an adult's
//! usual range, and the body-mass index with the cut-offs used for Indian adults. Shown
//! beside the numbers on the note editor and on signed notes; never a reason to refuse a
//! value (plausibility is `validation::VITAL_RANGES`'s job). The UI reads the same table
//! from `rules.json`.
//!
//! Sources: pulse 60–100/min, respiratory rate 12–20/min, SpO₂ ≥ 95 %, temperature
//! 36.1–37.9 °C (fever from 38.0 °C) are the usual adult reference ranges; blood pressure
//! below 140/90 mmHg and above 90/60 follows the ISH 2020 and Indian hypertension
//! guidelines' office thresholds; BMI bands are the Asian-Indian consensus (Misra et al.,
//! JAPI 2009): under 18.5 underweight, 23 overweight, 25 obese.

use serde::Serialize;

use crate::api::Vitals;

/// Adults only: children's ranges depend on age and are not flagged.
pub const ADULT_FROM_YEARS: u32 = 18;

/// Each vital's usual adult range, inclusive, in the stored units (tenths of °C for
/// temperature): (field, low, high). A value below `low` or above `high` is flagged.
pub const ADULT_RANGES: [(&str, i32, i32); 6] = [
    ("pulse_bpm", 60, 100),
    ("systolic_mmhg", 90, 139),
    ("diastolic_mmhg", 60, 89),
    ("temperature_dc", 361, 379),
    ("spo2_percent", 95, 100),
    ("respiratory_rate", 12, 20),
];

/// BMI band edges in tenths (18.5, 23.0, 25.0): below the first is underweight, from the
/// second overweight, from the third obese.
pub const BMI_BANDS_TENTHS: [i32; 3] = [185, 230, 250];

/// Which side of its usual range a value lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Low,
    High,
}

/// The vitals outside an adult's usual range, in `ADULT_RANGES` order.
pub fn adult_flags(v: &Vitals) -> Vec<(&'static str, Direction)> {
    let values = [
        v.pulse_bpm,
        v.systolic_mmhg,
        v.diastolic_mmhg,
        v.temperature_dc,
        v.spo2_percent,
        v.respiratory_rate,
    ];
    ADULT_RANGES
        .iter()
        .zip(values)
        .filter_map(|((field, lo, hi), value)| {
            let x = value?;
            if x < *lo {
                Some((*field, Direction::Low))
            } else if x > *hi {
                Some((*field, Direction::High))
            } else {
                None
            }
        })
        .collect()
}

/// Body-mass index in tenths (kg/m², 24.2 → 242), from weight in grams and height in mm;
/// `None` without both.
pub fn bmi_tenths(v: &Vitals) -> Option<i32> {
    let (w, h) = (i64::from(v.weight_g?), i64::from(v.height_mm?));
    if w <= 0 || h <= 0 {
        return None;
    }
    // kg / m² × 10 = (g / 1000) / (mm / 1000)² × 10 = g × 10_000 / mm², rounded.
    let scaled = w * 10_000;
    let square = h * h;
    i32::try_from((scaled + square / 2) / square).ok()
}

/// The BMI band of `tenths`: 0 underweight, 1 normal, 2 overweight, 3 obese.
pub fn bmi_band(tenths: i32) -> usize {
    BMI_BANDS_TENTHS
        .iter()
        .filter(|edge| tenths >= **edge)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_what_lies_outside_an_adults_range() {
        let v = Vitals {
            pulse_bpm: Some(112),
            systolic_mmhg: Some(150),
            diastolic_mmhg: Some(85),
            temperature_dc: Some(386),
            spo2_percent: Some(93),
            respiratory_rate: Some(16),
            weight_g: Some(70_000),
            height_mm: Some(1_700),
        };
        assert_eq!(
            adult_flags(&v),
            vec![
                ("pulse_bpm", Direction::High),
                ("systolic_mmhg", Direction::High),
                ("temperature_dc", Direction::High),
                ("spo2_percent", Direction::Low),
            ]
        );
        assert!(adult_flags(&Vitals::default()).is_empty());
        // The edges are within range.
        let edges = Vitals {
            pulse_bpm: Some(60),
            systolic_mmhg: Some(139),
            temperature_dc: Some(379),
            spo2_percent: Some(95),
            ..Vitals::default()
        };
        assert!(adult_flags(&edges).is_empty());
    }

    #[test]
    fn bmi_with_the_asian_indian_bands() {
        let bmi = |w, h| {
            bmi_tenths(&Vitals {
                weight_g: Some(w),
                height_mm: Some(h),
                ..Vitals::default()
            })
        };
        assert_eq!(bmi(70_000, 1_700), Some(242));
        assert_eq!(bmi(50_000, 1_700), Some(173));
        assert_eq!(bmi(70_000, 0), None);
        assert_eq!(
            bmi_tenths(&Vitals {
                weight_g: Some(70_000),
                ..Vitals::default()
            }),
            None
        );
        assert_eq!(
            [173, 185, 229, 230, 249, 250].map(bmi_band),
            [0, 1, 1, 2, 2, 3]
        );
    }
}
