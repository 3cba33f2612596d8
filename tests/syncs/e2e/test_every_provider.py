"""Every provider of the catalog has its end-to-end module here (test_<provider>.py): a new
provider without one fails this test."""

from pathlib import Path

from syncs.providers import provider_keys


def test_every_provider_has_an_end_to_end_test():
    here = Path(__file__).parent
    missing = [key for key in provider_keys() if not (here / f"test_{key}.py").is_file()]
    assert missing == []
    assert len(provider_keys()) >= 21
