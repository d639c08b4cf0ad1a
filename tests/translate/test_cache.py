"""The sqlite translation cache: damaged files are rebuilt; settings are part of the key."""

import logging

from xmner.translate.cache import CachedTranslator, TranslationCache, cache_key


class Upper:
    engine, model, src, tgt = "fake", "m", "en", "zh"

    def __init__(self, settings=""):
        self.settings, self.calls = settings, 0

    def translate(self, texts):
        self.calls += len(texts)
        return [t.upper() for t in texts]


def _filled(path):
    cache = TranslationCache(path)
    CachedTranslator(Upper(), cache).translate([f"text {i}" for i in range(200)])
    cache.close()


def test_a_damaged_cache_file_is_rebuilt_with_a_warning(tmp_path, caplog):
    path = tmp_path / "translations.sqlite"
    _filled(path)
    path.write_bytes(path.read_bytes()[:3000])  # cut
    with caplog.at_level(logging.WARNING):
        cache = TranslationCache(path)
    assert f"damaged translation cache {path}" in caplog.text
    engine = Upper()
    assert CachedTranslator(engine, cache).translate(["a"]) == ["A"] and engine.calls == 1
    cache.close()
    path.write_bytes(b"not a database at all" * 100)
    cache = TranslationCache(path)
    assert len(cache) == 0
    cache.close()


def test_beams_length_and_quantization_are_part_of_the_key(tmp_path):
    assert cache_key(Upper("beams=4 max=256")) != cache_key(Upper("beams=1 max=256"))
    assert cache_key(Upper()) == ("fake", "m", "en", "zh")
    cache = TranslationCache(tmp_path / "c.sqlite")
    CachedTranslator(Upper("beams=4"), cache).translate(["a", "b"])
    other = Upper("beams=1")
    CachedTranslator(other, cache).translate(["a", "b"])
    assert other.calls == 2  # not served from the beams=4 entries
    cache.close()
