//! The grouping key: the job and the labels that name one group of pushed metrics, and
//! the URL path the Pushgateway reads them from.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use tally_snapshot::is_valid_label_name;

use crate::PushError;

/// A job and its grouping labels, in the order given: `/metrics/job/<job>/<name>/<value>…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    job: String,
    labels: Vec<(String, String)>,
}

impl Grouping {
    /// The group of `job`, with no labels yet.
    ///
    /// # Errors
    ///
    /// [`PushError::EmptyJob`] for an empty name.
    pub fn new(job: &str) -> Result<Grouping, PushError> {
        if job.is_empty() {
            return Err(PushError::EmptyJob);
        }
        Ok(Grouping { job: job.to_owned(), labels: Vec::new() })
    }

    /// Adds the label `name="value"` to the key (`instance`, a shard number, a run id). Any
    /// value is fine, `/` and the empty string included.
    ///
    /// # Errors
    ///
    /// [`PushError::InvalidLabel`] for a name that is not a label name, is `job`, starts
    /// with `__` (reserved), or is already in the key.
    pub fn label(mut self, name: &str, value: &str) -> Result<Grouping, PushError> {
        let why = if !is_valid_label_name(name) {
            Some("not a label name")
        } else if name == "job" {
            Some("`job` is the job name, given already")
        } else if name.starts_with("__") {
            Some("names starting with `__` are reserved")
        } else if self.labels.iter().any(|(n, _)| n == name) {
            Some("already in the grouping key")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(PushError::InvalidLabel { name: name.to_owned(), why });
        }
        self.labels.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// The job's name.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The labels, in the order given.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// The path under the gateway's URL: values made only of URL-safe characters are
    /// written as they are, others (`/`, spaces, the empty string, any non-ASCII) in the
    /// Pushgateway's base64url form, `name@base64/<value>`.
    ///
    /// ```
    /// use tally_push::Grouping;
    /// let g = Grouping::new("eval").unwrap().label("shard", "3").unwrap();
    /// assert_eq!(g.path(), "/metrics/job/eval/shard/3");
    /// let g = Grouping::new("eval").unwrap().label("path", "/data/a").unwrap();
    /// assert_eq!(g.path(), "/metrics/job/eval/path@base64/L2RhdGEvYQ==");
    /// ```
    pub fn path(&self) -> String {
        let mut path = String::from("/metrics");
        for (name, value) in std::iter::once(("job", self.job.as_str()))
            .chain(self.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            let plain = !value.is_empty()
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
            if plain {
                path.push_str(&format!("/{name}/{value}"));
            } else if value.is_empty() {
                // The Pushgateway's spelling of an empty value.
                path.push_str(&format!("/{name}@base64/="));
            } else {
                path.push_str(&format!("/{name}@base64/{}", URL_SAFE.encode(value)));
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_values_encoded_as_the_pushgateway_reads_them() {
        assert!(matches!(Grouping::new(""), Err(PushError::EmptyJob)));
        let g = Grouping::new("job one").unwrap();
        assert_eq!(g.path(), "/metrics/job@base64/am9iIG9uZQ==");
        let g = Grouping::new("j").unwrap().label("instance", "").unwrap();
        assert_eq!(g.path(), "/metrics/job/j/instance@base64/=");
        let g = Grouping::new("j").unwrap().label("model", "llama-8b.v2").unwrap();
        assert_eq!(g.path(), "/metrics/job/j/model/llama-8b.v2");
        for bad in ["job", "__name", "9lives", "a-b", ""] {
            let err = Grouping::new("j").unwrap().label(bad, "x").unwrap_err();
            assert!(matches!(err, PushError::InvalidLabel { .. }), "{bad}: {err}");
        }
        let err = Grouping::new("j").unwrap().label("a", "1").unwrap().label("a", "2").unwrap_err();
        assert!(err.to_string().contains("already in the grouping key"), "{err}");
    }
}
