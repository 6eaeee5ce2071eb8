//! Images: OpenAI's `image_url` (an `https:` URL or a `data:` URL) ↔ Anthropic's image
//! `source` (`url` or `base64` with a media type). `detail` (a resolution hint) has no
//! Anthropic equivalent and is dropped.

use crate::llm::anthropic::ImageSource;
use crate::llm::TranslateError;

/// `image_url.url` → Anthropic image source. `field` names the URL in errors.
pub(crate) fn url_to_source(url: String, field: &str) -> Result<ImageSource, TranslateError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let Some((meta, data)) = rest.split_once(',') else {
            return Err(TranslateError::new(field, "malformed data URL: no comma"));
        };
        let Some(media_type) = meta.strip_suffix(";base64") else {
            return Err(TranslateError::new(
                field,
                "only base64 data URLs can be sent to Anthropic",
            ));
        };
        return Ok(ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    let has_scheme = |scheme: &[u8]| {
        url.as_bytes()
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    };
    if has_scheme(b"https://") || has_scheme(b"http://") {
        return Ok(ImageSource::Url { url });
    }
    Err(TranslateError::new(
        field,
        "image URL must be http(s) or a base64 data URL",
    ))
}

/// Anthropic image source → `image_url.url`. `field` names the source in errors.
pub(crate) fn source_to_url(source: ImageSource, field: &str) -> Result<String, TranslateError> {
    match source {
        ImageSource::Base64 { media_type, data } => Ok(format!("data:{media_type};base64,{data}")),
        ImageSource::Url { url } => Ok(url),
        ImageSource::File { .. } => Err(TranslateError::new(
            field,
            "Files API images have no OpenAI chat equivalent",
        )),
        ImageSource::Unknown => Err(TranslateError::new(field, "unknown image source type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_and_http_urls() {
        let src = url_to_source("data:image/png;base64,iVBORw0KGgo=".into(), "f").expect("ok");
        assert_eq!(
            src,
            ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into()
            }
        );
        assert_eq!(
            source_to_url(src, "f").expect("ok"),
            "data:image/png;base64,iVBORw0KGgo="
        );
        let src = url_to_source("https://example.com/a.jpg".into(), "f").expect("ok");
        assert_eq!(
            source_to_url(src, "f").expect("ok"),
            "https://example.com/a.jpg"
        );
    }

    #[test]
    fn refuses_what_anthropic_cannot_fetch() {
        for bad in [
            "data:image/png,rawbytes",
            "data:nocomma",
            "ftp://x/y.png",
            "",
            "é",
        ] {
            let err =
                url_to_source(bad.into(), "messages[0].content[1].image_url.url").expect_err(bad);
            assert_eq!(err.field, "messages[0].content[1].image_url.url");
        }
        assert!(source_to_url(
            ImageSource::File {
                file_id: "f".into()
            },
            "x"
        )
        .is_err());
    }
}
