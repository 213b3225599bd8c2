//! The files the server serves as they are, compiled into the module: the
//! one place that says which URL is which file and of which type.

/// A compiled-in file.
pub struct Asset {
    /// The URL path it is served at.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file served, by URL path.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: HTML,
        body: include_bytes!("assets/index.html"),
    },
    Asset {
        path: "/history",
        content_type: HTML,
        body: include_bytes!("assets/history.html"),
    },
    Asset {
        path: "/assets/style.css",
        content_type: CSS,
        body: include_bytes!("assets/style.css"),
    },
    Asset {
        path: "/assets/wallboard.js",
        content_type: JS,
        body: include_bytes!("assets/wallboard.js"),
    },
    Asset {
        path: "/assets/history.js",
        content_type: JS,
        body: include_bytes!("assets/history.js"),
    },
];

/// The file served at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}
