//! The built-in selector sets (`preset = "phpbb"`, …): what a phpBB,
//! XenForo, vBulletin or Discourse (the no-JavaScript view its server sends
//! to crawlers) topic page looks like, so a user gives only `url` and
//! `preset`. Each field lists fallbacks, tried in order, to cover the
//! versions and themes in the wild (phpBB 3.0–3.3 prosilver and subsilver,
//! XenForo 2, vBulletin 3–4, Discourse's crawler view).
//!
//! Deliberately not here: parsing selectors (`mod.rs`, at config time, so a
//! broken preset would fail its unit test, not a user's config).

/// One preset: its name and each field's fallbacks (`selector` or
/// `selector@attribute`; `@attribute` alone is the item itself).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Preset {
    pub(crate) name: &'static str,
    pub(crate) item: &'static str,
    pub(crate) title: &'static [&'static str],
    pub(crate) body: &'static [&'static str],
    pub(crate) author: &'static [&'static str],
    pub(crate) link: &'static [&'static str],
    pub(crate) date: &'static [&'static str],
    pub(crate) next: &'static [&'static str],
}

/// The presets, as `preset = "…"` names them.
pub(crate) const PRESETS: &[Preset] = &[
    Preset {
        name: "phpbb",
        item: "div.post",
        title: &["h3 a", "h3", "div.postbody h3"],
        body: &["div.content", "div.postbody"],
        author: &[
            ".author .username",
            ".author .username-coloured",
            ".author strong",
            "dt .username",
        ],
        link: &[
            "p.author a[href*='p=']@href",
            "h3 a[href*='p=']@href",
            "a[href*='viewtopic.php?p=']@href",
            "@id",
        ],
        date: &["time@datetime", "p.author", ".author"],
        next: &[
            ".pagination li.next a@href",
            "a[rel=next]@href",
            "link[rel=next]@href",
        ],
    },
    Preset {
        name: "xenforo",
        item: "article.message--post, article.message",
        // Posts have no title of their own: the page's `<title>` is used.
        title: &[".message-title"],
        body: &[
            ".message-body .bbWrapper",
            ".message-body",
            ".message-content",
        ],
        author: &["@data-author", ".message-name .username", ".username"],
        link: &[
            ".message-attribution-main a[href*='post']@href",
            ".message-attribution a[href*='post']@href",
            "@id",
        ],
        date: &[
            ".message-attribution-main time@datetime",
            "time.u-dt@datetime",
            "time@data-time",
            "time",
        ],
        next: &[
            "a.pageNav-jump--next@href",
            "link[rel=next]@href",
            "a[rel=next]@href",
        ],
    },
    Preset {
        name: "vbulletin",
        item: "li.postcontainer, li.postbitlegacy, li.postbit, div[id^='edit'] > table[id^='post']",
        title: &["h2.title", ".posttitle", "div.smallfont > strong"],
        body: &[
            "div[id^='post_message_']",
            "blockquote.postcontent",
            ".postcontent",
        ],
        author: &[".username strong", ".username", "a.bigusername"],
        link: &[
            "a.postcounter@href",
            "a[id^='postcount']@href",
            "a[name^='post']@href",
            "@id",
        ],
        date: &["span.date", ".postdate", ".userinfo_extra dd", "td.thead"],
        next: &["a[rel=next]@href", "link[rel=next]@href"],
    },
    Preset {
        name: "discourse",
        item: "div.crawler-post, div[itemprop='comment'], div.topic-body",
        title: &[".post-title"],
        body: &["div.post[itemprop='text']", "div.post", ".cooked"],
        author: &[
            "[itemprop='author'] [itemprop='name']",
            ".creator [itemprop='name']",
            ".creator a",
            ".creator",
        ],
        link: &["[itemprop='url'][href*='/t/']@href", "@id"],
        date: &[
            "time[itemprop='datePublished']@datetime",
            "time.post-time@datetime",
            "meta[itemprop='datePublished']@content",
            ".post-time",
        ],
        next: &["a[rel=next]@href", "link[rel=next]@href"],
    },
];

/// The preset called `name`.
pub(crate) fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}
