//! The console at `/admin`: three static files compiled into the library (no front-end
//! build), a page of plain HTML whose script speaks the admin API (`/admin/api/`) with
//! the admin credential the operator signs in with. The files never hold data: every
//! value reaches the page through the API, and the script inserts it as text.

use crate::provider::Response;

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// Scripts and styles from the console's own files only (no inline script, no `eval`),
/// data from the admin API only, never framed.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Whether `path` is the console's (`/admin` and below, except the API).
pub(crate) fn is_console_path(path: &str) -> bool {
    path == "/admin" || (path.starts_with("/admin/") && !is_api_path(path))
}

fn is_api_path(path: &str) -> bool {
    path == "/admin/api" || path.starts_with("/admin/api/")
}

/// The answer to a request for a console path (see [`is_console_path`]).
pub(crate) fn respond(method: &str, path: &str) -> Response {
    // hyper sends no body in answer to HEAD.
    if !method.eq_ignore_ascii_case("GET") && !method.eq_ignore_ascii_case("HEAD") {
        return page(405, "text/plain; charset=utf-8", "use GET\n")
            .with_header("Allow", "GET, HEAD");
    }
    let found = match path {
        "/admin" | "/admin/" | "/admin/index.html" => Some(("text/html; charset=utf-8", INDEX)),
        "/admin/console.js" => Some(("text/javascript; charset=utf-8", SCRIPT)),
        "/admin/console.css" => Some(("text/css; charset=utf-8", STYLE)),
        _ => None,
    };
    match found {
        Some((content_type, body)) => page(200, content_type, body),
        None => page(404, "text/plain; charset=utf-8", "no such console page\n"),
    }
}

fn page(status: u16, content_type: &str, body: &str) -> Response {
    Response {
        status,
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            (
                "Content-Security-Policy".into(),
                CONTENT_SECURITY_POLICY.into(),
            ),
            ("X-Content-Type-Options".into(), "nosniff".into()),
            ("Referrer-Policy".into(), "no-referrer".into()),
            ("Cache-Control".into(), "no-store".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'r>(resp: &'r Response, name: &str) -> Option<&'r str> {
        resp.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn console_paths_leave_the_api_alone() {
        assert!(is_console_path("/admin"));
        assert!(is_console_path("/admin/"));
        assert!(is_console_path("/admin/console.js"));
        assert!(!is_console_path("/admin/api"));
        assert!(!is_console_path("/admin/api/directories"));
        assert!(!is_console_path("/administrator"));
        assert!(!is_console_path("/scim/v2/x/Users"));
    }

    #[test]
    fn every_file_is_served_with_its_type_and_the_policy() {
        for (path, content_type, needle) in [
            ("/admin", "text/html", "<main id=\"app\">"),
            ("/admin/", "text/html", "<main id=\"app\">"),
            ("/admin/console.js", "text/javascript", "function route()"),
            ("/admin/console.css", "text/css", "body {"),
        ] {
            let resp = respond("GET", path);
            assert_eq!(resp.status, 200, "{path}");
            assert!(header(&resp, "Content-Type")
                .unwrap()
                .starts_with(content_type));
            assert_eq!(
                header(&resp, "Content-Security-Policy"),
                Some(CONTENT_SECURITY_POLICY)
            );
            assert!(
                String::from_utf8_lossy(&resp.body).contains(needle),
                "{path}"
            );
        }
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_handler() {
        // The policy forbids them: a page that needed one would not work.
        let index = INDEX.to_ascii_lowercase();
        assert!(!index.contains("<script>"));
        for handler in ["onclick", "onload", "onsubmit", "onerror", "javascript:"] {
            assert!(!index.contains(handler), "{handler}");
        }
        // Data is inserted as text, never parsed as HTML.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!SCRIPT.contains(sink), "{sink}");
        }
    }

    #[test]
    fn unknown_pages_and_methods_are_refused() {
        let resp = respond("GET", "/admin/secrets");
        assert_eq!(resp.status, 404);
        assert_eq!(
            header(&resp, "Content-Security-Policy"),
            Some(CONTENT_SECURITY_POLICY)
        );
        let resp = respond("POST", "/admin");
        assert_eq!(resp.status, 405);
        assert_eq!(header(&resp, "Allow"), Some("GET, HEAD"));
        assert_eq!(respond("HEAD", "/admin/console.js").status, 200);
    }
}
