use crate::llm::{Price, Usage};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn openai_style_usage_is_priced_with_the_cached_part_apart() {
    let price = Price {
        input: 2.5,
        output: 10.0,
        cached_input: 1.25,
        cache_write: 2.5,
    };
    // prompt_tokens 1000 of which cached_tokens 400; completion 200 (50 reasoning).
    let u = Usage {
        input: 1000,
        output: 200,
        cache_read: 400,
        reasoning: 50,
        ..Usage::default()
    };
    let want = (600.0 * 2.5 + 400.0 * 1.25 + 200.0 * 10.0) / 1e6;
    assert!(close(price.cost(&u), want), "{} != {want}", price.cost(&u));
    assert!(close(price.cost(&Usage::default()), 0.0));
}

#[test]
fn anthropic_style_usage_sums_cache_fields_into_input() {
    let price = Price {
        input: 3.0,
        output: 15.0,
        cached_input: 0.3,
        cache_write: 3.75,
    };
    // Anthropic: input_tokens 100, cache_read_input_tokens 2000,
    // cache_creation_input_tokens 500, output_tokens 300; the caller sums input.
    let u = Usage {
        input: 100 + 2000 + 500,
        output: 300,
        cache_read: 2000,
        cache_write: 500,
        ..Usage::default()
    };
    let want = (100.0 * 3.0 + 2000.0 * 0.3 + 500.0 * 3.75 + 300.0 * 15.0) / 1e6;
    assert!(close(price.cost(&u), want));
    // Inconsistent counts never go negative.
    let odd = Usage {
        input: 10,
        cache_read: 50,
        ..Usage::default()
    };
    assert!(price.cost(&odd) >= 0.0);
}

#[test]
fn unset_cache_prices_default_to_the_input_price() {
    #[derive(serde::Deserialize)]
    struct P {
        price: Price,
    }
    let p: P = toml::from_str("price = { input = 1.0, output = 2.0 }").unwrap();
    assert_eq!(p.price.cached_input, 1.0);
    assert_eq!(p.price.cache_write, 1.0);
    assert!(toml::from_str::<P>("price = { input = 1.0, output = 2.0, bogus = 1 }").is_err());
}
