//! The operator console's files, embedded in the binary: plain ES modules, a stylesheet and
//! one HTML page, with no build step (what is in `src/http/console/` is what the browser
//! gets). `/` is the page; `/console/<file>` the rest. Every answer says `Cache-Control:
//! no-cache`, so a browser revalidates after a server upgrade instead of mixing versions.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Every file of the console: name, content type, contents.
const FILES: &[(&str, &str, &[u8])] = &[
    ("index.html", HTML, include_bytes!("console/index.html")),
    ("style.css", CSS, include_bytes!("console/style.css")),
    ("rollouts.css", CSS, include_bytes!("console/rollouts.css")),
    ("api.js", JS, include_bytes!("console/api.js")),
    ("app.js", JS, include_bytes!("console/app.js")),
    ("commands.js", JS, include_bytes!("console/commands.js")),
    ("device.js", JS, include_bytes!("console/device.js")),
    ("fleet.js", JS, include_bytes!("console/fleet.js")),
    ("rollouts.js", JS, include_bytes!("console/rollouts.js")),
    ("server.js", JS, include_bytes!("console/server.js")),
    ("util.js", JS, include_bytes!("console/util.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The console page, at `/`.
pub async fn index() -> Response {
    file(Path("index.html".to_owned())).await
}

/// A console file by name; 404 for anything not embedded.
pub async fn file(Path(name): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = FILES.iter().find(|(file, ..)| *file == name) else {
        return (StatusCode::NOT_FOUND, format!("{name}: no such console file\n")).into_response();
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_embedded_files_with_their_types() {
        let response = file(Path("app.js".into())).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], JS);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(index().await.headers()[header::CONTENT_TYPE], HTML);
        assert_eq!(file(Path("../Cargo.toml".into())).await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn every_module_the_console_imports_is_embedded() {
        for (name, _, bytes) in FILES {
            let text = std::str::from_utf8(bytes).unwrap();
            for import in text.split("from './").skip(1) {
                let target = import.split('\'').next().unwrap();
                assert!(FILES.iter().any(|(file, ..)| *file == target), "{name} imports {target}");
            }
        }
    }
}
