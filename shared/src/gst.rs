//! GST arithmetic for invoice lines: integer paise, rates in basis points, CGST+SGST for
//! intra-state supply and IGST for inter-state supply. Pure functions, shared by the server
//! (which is authoritative) and clients (which preview totals offline).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// GST rates allowed on a line, in basis points (1800 = 18 %).
pub const ALLOWED_RATES_BP: [u32; 8] = [0, 10, 25, 300, 500, 1200, 1800, 2800];

/// How a line's tax splits, decided by place of supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SupplyKind {
    /// Supplier and place of supply in the same state: CGST + SGST, half each.
    IntraState,
    /// Different states: IGST.
    InterState,
}

impl SupplyKind {
    /// Decide the supply kind from two two-digit GST state codes ("27" = Maharashtra).
    pub fn from_states(supplier_state: &str, place_of_supply: &str) -> SupplyKind {
        if supplier_state == place_of_supply {
            SupplyKind::IntraState
        } else {
            SupplyKind::InterState
        }
    }
}

/// Tax amounts of one line, all in paise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LineTax {
    pub taxable_paise: i64,
    pub cgst_paise: i64,
    pub sgst_paise: i64,
    pub igst_paise: i64,
    pub total_paise: i64,
}

/// Why a line cannot be taxed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GstError {
    RateNotAllowed(u32),
    NegativeAmount,
    Overflow,
}

impl std::fmt::Display for GstError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GstError::RateNotAllowed(bp) => {
                write!(f, "GST rate {bp} basis points is not a GST rate")
            }
            GstError::NegativeAmount => f.write_str("amounts must not be negative"),
            GstError::Overflow => f.write_str("amount is too large"),
        }
    }
}

/// Round `numerator / denominator` to the nearest integer, halves away from zero
/// (the usual rounding for tax to the paisa). Both are non-negative here.
fn div_round(numerator: i128, denominator: i128) -> i128 {
    (numerator + denominator / 2) / denominator
}

/// Tax one line: `quantity × unit price − discount` at `rate_bp`.
///
/// For intra-state supply, CGST and SGST are each half the rate, computed separately and
/// rounded separately, so they are always equal (as printed on Indian tax invoices).
pub fn tax_line(
    quantity: i64,
    unit_price_paise: i64,
    discount_paise: i64,
    rate_bp: u32,
    kind: SupplyKind,
) -> Result<LineTax, GstError> {
    if !ALLOWED_RATES_BP.contains(&rate_bp) {
        return Err(GstError::RateNotAllowed(rate_bp));
    }
    if quantity < 0 || unit_price_paise < 0 || discount_paise < 0 {
        return Err(GstError::NegativeAmount);
    }
    let gross = (quantity as i128) * (unit_price_paise as i128);
    let taxable = gross - discount_paise as i128;
    if taxable < 0 {
        return Err(GstError::NegativeAmount);
    }
    let (cgst, sgst, igst) = match kind {
        SupplyKind::IntraState => {
            let half = div_round(taxable * rate_bp as i128, 20_000);
            (half, half, 0)
        }
        SupplyKind::InterState => (0, 0, div_round(taxable * rate_bp as i128, 10_000)),
    };
    let total = taxable + cgst + sgst + igst;
    let fit = |v: i128| i64::try_from(v).map_err(|_| GstError::Overflow);
    Ok(LineTax {
        taxable_paise: fit(taxable)?,
        cgst_paise: fit(cgst)?,
        sgst_paise: fit(sgst)?,
        igst_paise: fit(igst)?,
        total_paise: fit(total)?,
    })
}

/// Sum the taxes of several lines.
pub fn sum_lines(lines: &[LineTax]) -> Result<LineTax, GstError> {
    let mut sum = LineTax::default();
    for l in lines {
        sum.taxable_paise = sum
            .taxable_paise
            .checked_add(l.taxable_paise)
            .ok_or(GstError::Overflow)?;
        sum.cgst_paise = sum
            .cgst_paise
            .checked_add(l.cgst_paise)
            .ok_or(GstError::Overflow)?;
        sum.sgst_paise = sum
            .sgst_paise
            .checked_add(l.sgst_paise)
            .ok_or(GstError::Overflow)?;
        sum.igst_paise = sum
            .igst_paise
            .checked_add(l.igst_paise)
            .ok_or(GstError::Overflow)?;
        sum.total_paise = sum
            .total_paise
            .checked_add(l.total_paise)
            .ok_or(GstError::Overflow)?;
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intra_state_splits_equally() {
        let t = tax_line(2, 50_000, 0, 1800, SupplyKind::IntraState).unwrap();
        assert_eq!(t.taxable_paise, 100_000);
        assert_eq!(t.cgst_paise, 9_000);
        assert_eq!(t.sgst_paise, 9_000);
        assert_eq!(t.igst_paise, 0);
        assert_eq!(t.total_paise, 118_000);
    }

    #[test]
    fn inter_state_is_igst() {
        let t = tax_line(1, 33_333, 0, 1200, SupplyKind::InterState).unwrap();
        assert_eq!(t.igst_paise, 4_000); // 3999.96 rounds to 4000
        assert_eq!(t.cgst_paise + t.sgst_paise, 0);
    }

    #[test]
    fn halves_round_separately_and_stay_equal() {
        // 5 % of 101 paise = 5.05; 2.5 % each = 2.525 → 3 each.
        let t = tax_line(1, 101, 0, 500, SupplyKind::IntraState).unwrap();
        assert_eq!((t.cgst_paise, t.sgst_paise), (3, 3));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            tax_line(1, 100, 0, 1700, SupplyKind::IntraState),
            Err(GstError::RateNotAllowed(1700))
        );
        assert_eq!(
            tax_line(1, 100, 200, 0, SupplyKind::IntraState),
            Err(GstError::NegativeAmount)
        );
        assert_eq!(
            tax_line(-1, 100, 0, 0, SupplyKind::IntraState),
            Err(GstError::NegativeAmount)
        );
        assert_eq!(
            tax_line(i64::MAX, i64::MAX, 0, 0, SupplyKind::IntraState),
            Err(GstError::Overflow)
        );
    }

    #[test]
    fn supply_kind_by_state() {
        assert_eq!(SupplyKind::from_states("27", "27"), SupplyKind::IntraState);
        assert_eq!(SupplyKind::from_states("27", "29"), SupplyKind::InterState);
    }
}
