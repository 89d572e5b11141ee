//! A team crate that tests its HTTP behaviour with httpsim (see tests/).
