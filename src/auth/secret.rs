//! Secret material (access-key secrets): zeroized on drop, compared in constant time,
//! never shown by `Debug` and with no `Display` at all.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret string. The only way to read it is [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The secret's text, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret comes from: inline, a file, or an environment variable.
pub enum SecretSource<'a> {
    Inline(&'a str),
    File(&'a std::path::Path),
    Env(&'a str),
}

/// Read a secret; errors name the source, never the value.
pub fn read_secret(source: SecretSource<'_>) -> Result<Secret, String> {
    let value = match source {
        SecretSource::Inline(s) => s.to_owned(),
        SecretSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read secret file `{}`: {e}", path.display()))?;
            text.trim_end_matches(['\n', '\r']).to_owned()
        }
        SecretSource::Env(name) => {
            std::env::var(name).map_err(|_| format!("environment variable `{name}` is not set"))?
        }
    };
    if value.is_empty() {
        return Err("secret is empty".into());
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed_and_compared_by_value() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG".into());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", Some(&s)).contains("wJal"));
        assert_eq!(s, Secret::new("wJalrXUtnFEMI/K7MDENG".into()));
        assert_ne!(s, Secret::new("wJalrXUtnFEMI/K7MDENH".into()));
        assert_ne!(s, Secret::new("short".into()));
    }

    #[test]
    fn sources() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "abc\n").unwrap();
        assert_eq!(read_secret(SecretSource::File(&f)).unwrap().expose(), "abc");
        let missing = read_secret(SecretSource::File(&dir.path().join("nope"))).unwrap_err();
        assert!(missing.contains("cannot read secret file"));
        assert!(read_secret(SecretSource::Env("PORTCULLIS_TEST_SURELY_UNSET")).is_err());
        assert!(read_secret(SecretSource::Inline("")).is_err());
    }
}
