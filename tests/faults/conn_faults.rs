use crate::Result;
