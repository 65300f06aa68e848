//! Pagination: opaque `NextToken`s that carry the key after which the next page starts, bound to
//! the operation that issued them; page-size rules per the model.

/// Encodes "continue after `key`" for `operation` as an opaque token.
pub fn encode(operation: &str, key: &str) -> String {
    let mut out = String::with_capacity(4 + operation.len() + 2 * key.len());
    out.push_str("v1.");
    out.push_str(&hex(operation.as_bytes()));
    out.push('.');
    out.push_str(&hex(key.as_bytes()));
    out
}

/// Decodes a token issued by [`encode`] for the same operation.
pub fn decode(operation: &str, token: &str) -> Option<String> {
    let rest = token.strip_prefix("v1.")?;
    let (op, key) = rest.split_once('.')?;
    if unhex(op)? != operation.as_bytes() {
        return None;
    }
    String::from_utf8(unhex(key)?).ok()
}

fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let v = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(v(p[0])? << 4 | v(p[1])?))
        .collect()
}

/// Page-size rule: `requested` must lie in `1..=max` (the model's bounds); absent means `default`.
pub fn page_size(requested: Option<i64>, default: usize, max: usize) -> Result<usize, String> {
    match requested {
        None => Ok(default),
        Some(n) if n >= 1 && n as u64 <= max as u64 => Ok(n as usize),
        Some(n) => Err(format!("MaxResults must be between 1 and {max}, got {n}")),
    }
}

/// One page of `items` (already sorted by key) after the token's key.
pub fn paginate<T, K: Fn(&T) -> String>(
    operation: &str,
    items: Vec<T>,
    key: K,
    token: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), String> {
    let after = match token {
        None => None,
        Some(t) => Some(decode(operation, t).ok_or_else(|| {
            format!("The NextToken is not valid for {operation}; pass back the token of the previous page")
        })?),
    };
    let mut iter = items.into_iter();
    let mut page = Vec::with_capacity(size.min(1024));
    let mut rest_nonempty = false;
    for item in iter.by_ref() {
        if let Some(a) = &after
            && key(&item).as_str() <= a.as_str()
        {
            continue;
        }
        if page.len() == size {
            rest_nonempty = true;
            break;
        }
        page.push(item);
    }
    let next = if rest_nonempty {
        page.last().map(|l| encode(operation, &key(l)))
    } else {
        None
    };
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_roundtrip_and_binding() {
        let t = encode("ListUsers", "abc-123");
        assert_eq!(decode("ListUsers", &t).as_deref(), Some("abc-123"));
        assert_eq!(decode("ListInstances", &t), None);
        assert_eq!(decode("ListUsers", "garbage"), None);
        assert_eq!(decode("ListUsers", "v1.zz.00"), None);
        assert_eq!(decode("ListUsers", "v1.4c.0"), None);
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(None, 100, 1000), Ok(100));
        assert_eq!(page_size(Some(1000), 100, 1000), Ok(1000));
        assert!(page_size(Some(0), 100, 1000).is_err());
        assert!(page_size(Some(11), 10, 10).is_err());
    }

    #[test]
    fn pages_cover_everything_once() {
        let items: Vec<String> = (0..25).map(|i| format!("k{i:03}")).collect();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) =
                paginate("Op", items.clone(), |s| s.clone(), token.as_deref(), 10).unwrap();
            assert!(page.len() <= 10);
            seen.extend(page);
            match next {
                Some(n) => token = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, items);
        // exactly one full page: no token
        let (p, n) = paginate("Op", items[..10].to_vec(), |s| s.clone(), None, 10).unwrap();
        assert_eq!(p.len(), 10);
        assert!(n.is_none());
        assert!(paginate("Op", items, |s| s.clone(), Some("bad"), 10).is_err());
    }
}
