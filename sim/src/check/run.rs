//! A [`Run`] judges itself: [`Run::check`] and [`Run::check_all`] over the run's cached
//! summary and timeline. Written here, beside the checks, so that `setup` does not depend on
//! `check` (the checks read a setup; a setup knows nothing of them).

use super::{CheckContext, Invariant, InvariantResult};
use crate::setup::Run;

impl Run {
    /// What a check may look at, over this run's cached summary and timeline.
    pub fn context(&self) -> CheckContext<'_> {
        CheckContext::with_timeline(
            &self.records,
            self.summary(),
            self.setup(),
            &self.end,
            &self.timeline,
        )
    }

    /// The verdict of one invariant over this run.
    ///
    /// ```
    /// use httpsim::check::Invariant;
    ///
    /// let run = httpsim::Setup::default().run()?;
    /// assert!(run.check(Invariant::Ordering).passed);
    /// # Ok::<(), httpsim::setup::SetupError>(())
    /// ```
    pub fn check(&self, invariant: Invariant) -> InvariantResult {
        invariant.check(&self.context())
    }

    /// The verdicts of every invariant ([`Invariant::ALL`]), in that order.
    pub fn check_all(&self) -> Vec<InvariantResult> {
        let ctx = self.context();
        Invariant::ALL.iter().map(|i| i.check(&ctx)).collect()
    }
}
