"""The societies file (coop.societies) and the federation's addressing (coop.api.federation):
each society has its own database, key and host names, and a file that shares any of them is
refused; what leaves a society's app under its prefix is put under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from coop.api.federation import (
    cookie_under,
    html_under,
    request_host,
    society_named,
    under,
)
from coop.config import Settings
from coop.errors import InvalidInput
from coop.societies import database_identity, load_societies

BASE = Settings(worker_threads=6, timezone="Africa/Nairobi", admin_password="one for all")
GOOD = """
[society.north]
database_url = "postgresql+psycopg://coop:secret@db.lan:5432/coop_north"
data_key_file = "keys/north.key"
hosts = ["North.Coop.Example.", "north-coop.example"]
society_name = "North Savings"

[society.south]
database_url = "sqlite:///south.db"
data_key_file = "/etc/coop/south.key"
backup_key_file = "/etc/coop/south-backup.key"
timezone = "Asia/Kolkata"
pool_size = 4
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "societies.toml"
    path.write_text(text)
    return path


def test_a_file_of_two_societies(tmp_path: Path) -> None:
    north, south = load_societies(write(tmp_path, GOOD), BASE)
    assert (north.name, north.prefix) == ("north", "/s/north")
    assert north.hosts == ("north.coop.example", "north-coop.example")
    assert north.settings.database_url.endswith("@db.lan:5432/coop_north")
    # paths in the file are the file's folder's; the backup key is beside the data key
    assert north.settings.data_key_file == tmp_path.resolve() / "keys" / "north.key"
    assert north.settings.backup_key_file == tmp_path.resolve() / "keys" / "north-backup.key"
    assert south.settings.database_url == f"sqlite:///{tmp_path.resolve() / 'south.db'}"
    # the server's own settings come from the environment; the society's from the file
    assert north.settings.worker_threads == south.settings.worker_threads == 6
    assert (north.settings.timezone, south.settings.timezone) == ("Africa/Nairobi",
                                                                 "Asia/Kolkata")
    assert (north.settings.pool_size, south.settings.pool_size) == (10, 4)
    assert north.settings.admin_password is None is south.settings.admin_password
    assert north.society_name == "North Savings" and south.society_name is None


SOUTH = '[society.south]\ndatabase_url = "sqlite:////var/coop/south.db"\n' \
        'data_key_file = "/etc/coop/south.key"\n'


@pytest.mark.parametrize(("north", "words"), [
    ('database_url = "sqlite:////var/coop/south.db"\ndata_key_file = "/k/n.key"',
     "share a database"),
    ('database_url = "sqlite:////var/coop/../coop/south.db"\ndata_key_file = "/k/n.key"',
     "share a database"),
    ('database_url = "sqlite:////var/coop/north.db"\ndata_key_file = "/etc/coop/south.key"',
     "share a key file"),
    ('database_url = "sqlite:////var/coop/north.db"\ndata_key_file = "/k/n.key"\n'
     'backup_key_file = "/etc/coop/south.key"', "share a key file"),
    ('database_url = "sqlite:////var/coop/north.db"', "needs database_url and data_key_file"),
    ('data_key_file = "/k/n.key"', "needs database_url and data_key_file"),
    ('database_url = "sqlite:////var/coop/north.db"\ndata_key_file = "/k/n.key"\n'
     'databse_url = "typo"', "unknown key 'databse_url'"),
    ('database_url = "not a url"\ndata_key_file = "/k/n.key"', "not a database URL"),
    ('database_url = "sqlite:////var/coop/north.db"\ndata_key_file = "/k/n.key"\n'
     'hosts = ["https://north.example/"]', "is not a host name"),
    ('database_url = "sqlite:////var/coop/north.db"\ndata_key_file = "/k/n.key"\n'
     'hosts = "north.example"', "hosts is a list"),
    ('database_url = "sqlite:////var/coop/north.db"\ndata_key_file = "/k/n.key"\n'
     'pool_size = 0', "pool_size"),
    ('database_url = ""\ndata_key_file = "/k/n.key"', "not a non-empty string"),
])
def test_a_file_that_shares_or_misses_something_is_refused(
        tmp_path: Path, north: str, words: str) -> None:
    path = write(tmp_path, f"[society.north]\n{north}\n\n{SOUTH}")
    with pytest.raises(InvalidInput, match=words):
        load_societies(path, BASE)


def test_the_same_postgresql_database_under_another_login_is_shared(tmp_path: Path) -> None:
    text = ('[society.a]\ndatabase_url = "postgresql+psycopg://a:x@DB.lan/coop"\n'
            'data_key_file = "/k/a.key"\n[society.b]\n'
            'database_url = "postgresql+psycopg://b:y@db.lan/coop"\ndata_key_file = "/k/b.key"\n')
    with pytest.raises(InvalidInput, match="share a database"):
        load_societies(write(tmp_path, text), BASE)
    apart = text.replace("db.lan/coop\"", "db.lan/coop_b\"")
    assert [s.name for s in load_societies(write(tmp_path, apart), BASE)] == ["a", "b"]


def test_a_copy_of_another_societys_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.key").write_bytes(bytes(range(32)))
    (tmp_path / "b.key").write_bytes(bytes(range(32)))
    text = ('[society.a]\ndatabase_url = "sqlite:///a.db"\ndata_key_file = "a.key"\n'
            '[society.b]\ndatabase_url = "sqlite:///b.db"\ndata_key_file = "b.key"\n')
    with pytest.raises(InvalidInput, match="holds a copy"):
        load_societies(write(tmp_path, text), BASE)
    (tmp_path / "b.key").write_bytes(bytes(range(1, 33)))
    assert len(load_societies(write(tmp_path, text), BASE)) == 2


def test_a_host_of_two_societies_is_refused(tmp_path: Path) -> None:
    text = ('[society.a]\ndatabase_url = "sqlite:///a.db"\ndata_key_file = "a.key"\n'
            'hosts = ["coop.example"]\n[society.b]\ndatabase_url = "sqlite:///b.db"\n'
            'data_key_file = "b.key"\nhosts = ["COOP.example"]\n')
    with pytest.raises(InvalidInput, match="share a host"):
        load_societies(write(tmp_path, text), BASE)


@pytest.mark.parametrize(("text", "words"), [
    ("", "needs \\[society.NAME\\] tables"),
    ("[society]\n", "needs \\[society.NAME\\] tables"),
    ("[other]\nx = 1\n" + SOUTH, "and nothing else"),
    ("[society.North]\n", "society name 'North'"),
    ("[society.-x]\n", "society name '-x'"),
    ("not toml = = 1", "is not TOML"),
])
def test_a_file_that_is_not_a_societies_file_is_refused(
        tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        load_societies(write(tmp_path, text), BASE)
    with pytest.raises(InvalidInput, match="cannot read"):
        load_societies(tmp_path / "missing.toml", BASE)


def test_what_makes_two_urls_one_database(tmp_path: Path) -> None:
    assert database_identity("postgresql+psycopg://a@h:5432/x") \
        == database_identity("postgresql+psycopg://b:pw@H:5432/x")
    assert database_identity("postgresql+psycopg://a@h/x") \
        != database_identity("postgresql+psycopg://a@h/y")
    assert database_identity(f"sqlite:///{tmp_path}/a.db") \
        == database_identity(f"sqlite:///{tmp_path}/b/../a.db")


@pytest.mark.parametrize(("header", "host"), [
    (b"North.Example", "north.example"), (b"north.example:8443", "north.example"),
    (b"north.example.", "north.example"), (b"[::1]:8000", "[::1]"), (b"", ""),
    (b"127.0.0.1:8000", "127.0.0.1"),
])
def test_the_host_a_request_names(header: bytes, host: str) -> None:
    assert request_host({"headers": [(b"host", header)]}) == host


def test_the_society_a_path_is_under() -> None:
    assert society_named("/s/north/api/v1/me") == "north"
    assert society_named("/s/north") == "north"
    assert society_named("/s/") is None and society_named("/api/v1/me") is None
    assert society_named("/sx/north/") is None


def test_addresses_and_cookies_put_under_the_prefix() -> None:
    m = "/s/north"
    assert under(m, "/counter/login") == "/s/north/counter/login"
    assert under(m, "/s/north/api/v1/ledger/verify-jobs/3") == \
        "/s/north/api/v1/ledger/verify-jobs/3"  # the app wrote its full address already
    for kept in ("https://elsewhere.example/x", "//elsewhere.example/x", "login", "?a=1"):
        assert under(m, kept) == kept
    assert cookie_under(m, "coop_session=abc; HttpOnly; Path=/counter; SameSite=strict") \
        == "coop_session=abc; HttpOnly; Path=/s/north/counter; SameSite=strict"
    assert cookie_under(m, "a=b; path=/") == "a=b; Path=/s/north"
    assert cookie_under(m, "a=b") == "a=b; Path=/s/north"


def test_html_addresses_put_under_the_prefix() -> None:
    page = (b'<a href="/counter/x">x</a><form action="/counter/y" method="post">'
            b"<link rel='stylesheet' href='/counter/c.css'><img src=\"/counter/i.png\">"
            b'<a href="https://other.example/">o</a><a href="//cdn.example/x">c</a>'
            b'<a href="#top">t</a><a href="/s/north/counter/z">z</a>'
            b"<p>typed: see href=&#34;/counter/t&#34;</p>"
            b'<button formaction="/counter/b">b</button>')
    assert html_under("/s/north", page) == (
        b'<a href="/s/north/counter/x">x</a><form action="/s/north/counter/y" method="post">'
        b"<link rel='stylesheet' href='/s/north/counter/c.css'>"
        b'<img src="/s/north/counter/i.png">'
        b'<a href="https://other.example/">o</a><a href="//cdn.example/x">c</a>'
        b'<a href="#top">t</a><a href="/s/north/counter/z">z</a>'
        b"<p>typed: see href=&#34;/counter/t&#34;</p>"  # text that people typed (escaped)
        b'<button formaction="/s/north/counter/b">b</button>')


def test_the_example_file_in_deploy_is_a_good_societies_file() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "societies.example.toml"
    north, south, hill = load_societies(example, BASE)
    assert [north.name, south.name, hill.name] == ["north", "south", "hill"]
    assert north.hosts == ("north.coop.example",) and hill.hosts == ()
    assert (south.currency, south.locale, south.settings.timezone) == ("KES", "sw_KE",
                                                                      "Africa/Nairobi")
    assert north.settings.backup_key_file == Path("/etc/coop/north/data-backup.key")
