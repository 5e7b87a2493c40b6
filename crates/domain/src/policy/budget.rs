//! Closing a round against the program's budget (POLICY.md "Budget and
//! pro-rating"): over budget, each claim gets ⌊aᵢ·B/Σa⌋ fen and the fen left
//! over go one each to the largest remainders, so the round pays exactly B.

use super::program::Program;
use super::vocabulary::Proration;
use crate::money::Money;
use crate::violations::Coded;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProrationError {
    /// The same claim twice: a caller's mistake that would pay it twice.
    #[error("claim {0} is listed twice")]
    DuplicateKey(String),
    /// `proration = "none"` and the approved amounts exceed the budget.
    #[error("approved claims total {approved}, over the budget of {budget}; the program does not pro-rate")]
    OverBudget { budget: Money, approved: Money },
}

impl Coded for ProrationError {
    fn code(&self) -> &'static str {
        match self {
            Self::DuplicateKey(_) => "duplicate_claim",
            Self::OverBudget { .. } => "over_budget",
        }
    }
}

/// Final amounts for `approved` (key, amount) pairs within `budget`. Pass
/// the claims in submission order: equal remainders favour the earlier one.
/// When the approved amounts fit the budget they are returned unchanged.
pub fn prorate(budget: Money, approved: &[(String, Money)]) -> Result<Vec<(String, Money)>, ProrationError> {
    reject_duplicates(approved)?;
    // i128: each product aᵢ·B is below 2^126, and the sums stay far below i128::MAX.
    let total: i128 = approved.iter().map(|(_, amount)| i128::from(amount.fen())).sum();
    let budget_fen = i128::from(budget.fen());
    if total <= budget_fen {
        return Ok(approved.to_vec());
    }
    let shares: Vec<(i128, i128)> = approved
        .iter()
        .map(|(_, amount)| {
            let product = i128::from(amount.fen()) * budget_fen;
            (product / total, product % total)
        })
        .collect();
    let floors: i128 = shares.iter().map(|(floor, _)| floor).sum();
    // Fewer than one fen per claim is left: Σ⌊x⌋ > Σx − n.
    let leftover = usize::try_from(budget_fen - floors).unwrap_or(0);
    let mut order: Vec<usize> = (0..shares.len()).collect();
    // A stable sort keeps submission order among equal remainders.
    order.sort_by(|&a, &b| shares[b].1.cmp(&shares[a].1));
    let mut fen: Vec<i128> = shares.iter().map(|(floor, _)| *floor).collect();
    for &index in order.iter().take(leftover) {
        fen[index] += 1;
    }
    Ok(approved
        .iter()
        .zip(fen)
        // Each share is at most its approved amount, so it fits in Money.
        .map(|((key, amount), fen)| {
            (key.clone(), i64::try_from(fen).ok().and_then(|f| Money::from_fen(f).ok()).unwrap_or(*amount))
        })
        .collect())
}

fn reject_duplicates(approved: &[(String, Money)]) -> Result<(), ProrationError> {
    let mut keys: Vec<&str> = approved.iter().map(|(key, _)| key.as_str()).collect();
    keys.sort_unstable();
    match keys.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(ProrationError::DuplicateKey(pair[0].to_string())),
        None => Ok(()),
    }
}

impl Program {
    /// Whether closing a round with `total_approved` must be refused:
    /// over budget in a program that does not pro-rate.
    pub fn refuses_close(&self, total_approved: Money) -> bool {
        self.proration == Proration::None && self.budget_fen.is_some_and(|budget| total_approved > budget)
    }

    /// The amounts a closed round pays: in full without a budget or within
    /// it; pro-rated over it; refused over it with `proration = "none"`.
    pub fn final_amounts(&self, approved: &[(String, Money)]) -> Result<Vec<(String, Money)>, ProrationError> {
        reject_duplicates(approved)?;
        let Some(budget) = self.budget_fen else { return Ok(approved.to_vec()) };
        match self.proration {
            Proration::Proportional => prorate(budget, approved),
            Proration::None => {
                let total: i128 = approved.iter().map(|(_, amount)| i128::from(amount.fen())).sum();
                if total <= i128::from(budget.fen()) {
                    Ok(approved.to_vec())
                } else {
                    let approved = Money::from_fen(i64::try_from(total).unwrap_or(i64::MAX)).unwrap_or(budget);
                    Err(ProrationError::OverBudget { budget, approved })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(n: i64) -> Money {
        Money::from_fen(n).unwrap()
    }

    fn claims(amounts: &[i64]) -> Vec<(String, Money)> {
        amounts.iter().enumerate().map(|(i, &a)| (format!("c{i}"), fen(a))).collect()
    }

    fn amounts(result: &[(String, Money)]) -> Vec<i64> {
        result.iter().map(|(_, amount)| amount.fen()).collect()
    }

    /// POLICY.md: budget 100万; 60万, 50万, 40万 → 400,000.00, 333,333.33, 266,666.67.
    #[test]
    fn worked_example_pays_exactly_the_budget() {
        let result = prorate(fen(100_000_000), &claims(&[60_000_000, 50_000_000, 40_000_000])).unwrap();
        assert_eq!(amounts(&result), [40_000_000, 33_333_333, 26_666_667]);
        let shown: Vec<String> = result.iter().map(|(_, amount)| amount.to_string()).collect();
        assert_eq!(shown, ["400,000.00", "333,333.33", "266,666.67"]);
        assert_eq!(Money::sum(result.iter().map(|(_, a)| *a)).unwrap(), fen(100_000_000));
        assert_eq!(result[2].0, "c2");
    }

    #[test]
    fn equal_remainders_favour_the_earlier_claim() {
        // Three equal claims of 1 fen share 2 fen: the first two get them.
        assert_eq!(amounts(&prorate(fen(2), &claims(&[1, 1, 1])).unwrap()), [1, 1, 0]);
        assert_eq!(amounts(&prorate(fen(10), &claims(&[5, 5, 5])).unwrap()), [4, 3, 3]);
    }

    #[test]
    fn within_budget_is_paid_in_full() {
        assert_eq!(amounts(&prorate(fen(100), &claims(&[30, 70])).unwrap()), [30, 70]);
        assert_eq!(amounts(&prorate(fen(0), &claims(&[])).unwrap()), Vec::<i64>::new());
        assert_eq!(amounts(&prorate(fen(0), &claims(&[0, 5])).unwrap()), [0, 0]);
    }

    #[test]
    fn duplicate_claims_are_refused() {
        let twice = vec![("a".to_string(), fen(5)), ("a".to_string(), fen(6))];
        assert_eq!(prorate(fen(1), &twice), Err(ProrationError::DuplicateKey("a".to_string())));
    }

    /// A fixed pseudo-random sequence (a 64-bit LCG), so failures reproduce.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, bound: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % bound
        }
    }

    #[test]
    fn never_over_budget_exact_when_over_and_never_above_approved() {
        let mut random = Lcg(20_240_410);
        for round in 0..2_000 {
            let count = random.next(12) as usize;
            // Mix small and huge amounts, so both the remainders and i128 matter.
            let scale = [10, 1_000, 100_000_000, 100_000_000_000_000_000][round % 4];
            let approved: Vec<i64> = (0..count).map(|_| random.next(scale) as i64).collect();
            let total: i64 = approved.iter().sum();
            let budget = random.next(scale * 8) as i64;
            let result = prorate(fen(budget), &claims(&approved)).unwrap();
            let paid: i64 = amounts(&result).iter().sum();
            assert!(paid <= budget, "round {round}");
            if total > budget {
                assert_eq!(paid, budget, "round {round}: {approved:?} within {budget}");
            } else {
                assert_eq!(paid, total, "round {round}");
            }
            for ((key, share), (expected_key, approved)) in result.iter().zip(claims(&approved)) {
                assert_eq!(key, &expected_key);
                assert!(*share <= approved, "round {round}: {share:?} > {approved:?}");
            }
        }
    }

    fn program(budget: &str, proration: &str) -> Program {
        let text = format!(
            "id = \"p\"\nname = \"P\"\n{budget}\nproration = \"{proration}\"\n\
             [[rules]]\nid = \"r\"\nrole = \"buyer\"\nrate = \"5%\"\n"
        );
        Program::from_toml(&text).unwrap()
    }

    #[test]
    fn closing_follows_the_programs_proration() {
        let approved = claims(&[60, 50, 40]);
        let proportional = program("budget_fen = 100", "proportional");
        assert_eq!(amounts(&proportional.final_amounts(&approved).unwrap()), [40, 33, 27]);
        assert!(!proportional.refuses_close(fen(150)));

        let refusing = program("budget_fen = 100", "none");
        assert!(refusing.refuses_close(fen(150)) && !refusing.refuses_close(fen(100)));
        let error = refusing.final_amounts(&approved).unwrap_err();
        assert_eq!(error, ProrationError::OverBudget { budget: fen(100), approved: fen(150) });
        assert_eq!(error.code(), "over_budget");
        assert_eq!(amounts(&refusing.final_amounts(&claims(&[60, 40])).unwrap()), [60, 40]);

        let unlimited = program("", "none");
        assert_eq!(amounts(&unlimited.final_amounts(&approved).unwrap()), [60, 50, 40]);
        assert!(!unlimited.refuses_close(fen(i64::MAX)));
    }
}
