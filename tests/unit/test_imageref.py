"""Image references parse as Docker parses them; bad ones are refused with the reason."""

from __future__ import annotations

import pytest

from vigil_shared.imageref import InvalidImageRef, local_digests_for, parse_image_ref

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "api_host"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", None, "registry-1.docker.io"),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", None, "registry-1.docker.io"),
        ("team/app", "docker.io", "team/app", "latest", None, "registry-1.docker.io"),
        ("docker.io/nginx", "docker.io", "library/nginx", "latest", None, "registry-1.docker.io"),
        ("index.docker.io/team/app:2", "docker.io", "team/app", "2", None, "registry-1.docker.io"),
        ("localhost/app", "localhost", "app", "latest", None, "localhost"),
        ("127.0.0.1:5000/app:v1", "127.0.0.1:5000", "app", "v1", None, "127.0.0.1:5000"),
        ("ghcr.io/org/team/app:x", "ghcr.io", "org/team/app", "x", None, "ghcr.io"),
        (f"app@{D1}", "docker.io", "library/app", None, D1, "registry-1.docker.io"),
        (f"reg:5000/app:1@{D1}", "reg:5000", "app", "1", D1, "reg:5000"),
        ("[::1]:5000/app", "[::1]:5000", "app", "latest", None, "[::1]:5000"),
        ("a/b__c/d-e.f:TAG_1.0-x", "docker.io", "a/b__c/d-e.f", "TAG_1.0-x", None, None),
    ],
)
def test_references_parse_as_docker_parses_them(
    text: str,
    registry: str,
    repository: str,
    tag: str | None,
    digest: str | None,
    api_host: str | None,
) -> None:
    ref = parse_image_ref(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    if api_host:
        assert ref.api_host == api_host
    assert ref.reference == (digest or tag)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("App", "lowercase"),
        ("reg:5000/App:1", "lowercase"),
        ("app:", "not a valid tag"),
        ("app:-x", "not a valid tag"),
        ("app@sha256:abc", "not a digest"),
        ("app@sha256:" + "A" * 64, "64 lowercase hex"),
        ("my app", "whitespace"),
        (" app", "whitespace"),
        ("app\t", "whitespace"),
        ("reg:5000/app\u00a0:1", "whitespace"),
        ("a//b", "empty path component"),
        ("reg:5000/", "no repository"),
        ("a/-b", "not a valid path component"),
        ("bad_host:5000/app", "not a valid registry host"),
    ],
)
def test_bad_references_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidImageRef) as caught:
        parse_image_ref(text)
    assert reason in str(caught.value)
    assert repr(text) in str(caught.value) or text == ""


def test_a_reference_is_parsed_once_and_refusals_each_time() -> None:
    # A fleet cycle parses the same reference several times per container: the parse is
    # memoised (the same frozen struct back), a refusal still raises every time.
    text = "127.0.0.1:5000/memo/app:1"
    assert parse_image_ref(text) is parse_image_ref(text)
    for _ in range(2):
        with pytest.raises(InvalidImageRef, match="whitespace"):
            parse_image_ref("memo app")


def test_only_this_repositorys_digests_count() -> None:
    ref = parse_image_ref("127.0.0.1:5000/app:latest")
    repo_digests = [
        f"127.0.0.1:5000/app@{D1}",
        f"mirror.example:5000/app@{D2}",  # the same build, pulled from elsewhere
        "garbage",
    ]
    assert local_digests_for(ref, repo_digests) == {D1}
    hub = parse_image_ref("nginx:1.25")
    assert local_digests_for(hub, [f"nginx@{D2}", f"docker.io/library/nginx@{D1}"]) == {D1, D2}


@pytest.mark.parametrize(
    ("image", "split"),
    [
        ("127.0.0.1:5000/app:1.2", ("127.0.0.1:5000/app", "1.2")),
        ("127.0.0.1:5000/app", ("127.0.0.1:5000/app", "latest")),
        ("nginx", ("nginx", "latest")),
        ("team/app:v1", ("team/app", "v1")),
    ],
)
def test_split_tag_is_the_one_name_and_tag_split(image: str, split: tuple[str, str]) -> None:
    from vigil_shared.imageref import split_tag

    assert split_tag(image) == split
