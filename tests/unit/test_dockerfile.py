"""Static checks of the Dockerfile: no Docker engine runs here, so parse it and assert policy."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# A release tag: starts with a full x.y.z version (e.g. 3.11.14-slim-trixie).
_VERSION_TAG = re.compile(r"^\d+\.\d+\.\d+(?:[-.][\w.-]+)?$")


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    image: str  # after substituting global ARGs
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]


def parse_instructions(text: str) -> list[Instruction]:
    """Join continuation lines and drop comments, as the Dockerfile frontend does."""
    out: list[Instruction] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        full = buf + line
        buf = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip()))
    assert not buf, "Dockerfile ends inside a line continuation"
    return out


def _arg_default(args: str) -> tuple[str, str | None]:
    name, sep, default = args.partition("=")
    return name.strip(), (default.strip().strip('"') if sep else None)


def parse_stages(text: str) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in parse_instructions(text):
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--platform")]
            image = _VAR.sub(lambda m: global_args.get(m[1] or m[2], m[0]), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=image, name=name))
        elif not stages:
            if ins.keyword == "ARG":
                key, default = _arg_default(ins.args)
                if default is not None:
                    global_args[key] = default
        else:
            stages[-1].instructions.append(ins)
    return stages


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    return env


def _shell_commands(stage: Stage) -> list[list[str]]:
    """Every simple command of every RUN, split on && / ; / ||."""
    cmds: list[list[str]] = []
    for run in stage.all("RUN"):
        for part in re.split(r"&&|\|\||;", run):
            words = shlex.split(part)
            if words:
                cmds.append(words)
    return cmds


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_stages(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_parser_joins_continuations_and_skips_comments() -> None:
    text = "ARG B=python:1.2.3\nFROM ${B} AS x\n# c\nRUN a \\\n  # inner\n  && b\n"
    [stage] = parse_stages(text)
    assert stage.image == "python:1.2.3"
    assert stage.name == "x"
    assert stage.all("RUN")[0].split() == ["a", "&&", "b"]


def test_is_multi_stage(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    names = {s.name for s in stages[:-1]}
    copies = " ".join(stages[-1].all("COPY"))
    assert any(f"--from={n}" in copies for n in names if n), "final stage copies no build stage"


def test_final_stage_runs_as_numeric_non_root_user(final: Stage) -> None:
    users = final.all("USER")
    assert users, "final stage has no USER"
    user = users[-1]
    assert re.fullmatch(r"\d+(:\d+)?", user), f"USER {user} is not numeric"
    uid, _, gid = user.partition(":")
    assert int(uid) != 0
    assert not gid or int(gid) != 0
    assert user == "10001:10001"


def test_entrypoint(final: Stage) -> None:
    entrypoints = final.all("ENTRYPOINT")
    assert entrypoints, "no ENTRYPOINT"
    # Exec form: no shell between the kernel and the operator, so signals reach it.
    assert json.loads(entrypoints[-1]) == ["opsreport", "operator"]


def test_final_stage_env_suits_read_only_root(final: Stage) -> None:
    env = _env(final)
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("HOME") == "/tmp"
    assert "/opt/venv/bin" in env.get("PATH", "")
    assert any("/opt/venv" in c for c in final.all("COPY"))
    assert not final.all("RUN"), "the runtime stage should only copy the built venv"


def test_final_stage_has_oci_labels(final: Stage) -> None:
    labels = " ".join(final.all("LABEL"))
    for key in ("title", "description", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_no_remote_add(stages: list[Stage]) -> None:
    for stage in stages:
        for args in stage.all("ADD"):
            sources = [w for w in shlex.split(args) if not w.startswith("--")][:-1]
            for src in sources:
                assert not re.match(r"(?i)^(https?|git|ssh)://|^git@", src), f"ADD {src}"
                assert not src.endswith(".git"), f"ADD {src}"


def test_base_images_pinned_and_not_latest(stages: list[Stage]) -> None:
    stage_names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.image in stage_names:
            continue
        assert "$" not in stage.image, f"unresolved base image {stage.image}"
        if "@sha256:" in stage.image:
            continue
        name, sep, tag = stage.image.rpartition(":")
        assert sep, f"{stage.image} has no tag"
        assert "/" not in tag, f"{stage.image} has no tag (the colon is a registry port)"
        assert tag != "latest"
        assert _VERSION_TAG.match(tag), f"{stage.image}: tag is not a pinned x.y.z version"
        assert name.rsplit("/", 1)[-1] == "python"
        assert tag.startswith("3.11.")


def test_pip_wheel_builds_this_repo(stages: list[Stage]) -> None:
    found = [(s, c) for s in stages for c in _shell_commands(s) if c[0].endswith("pip")
             and c[1:2] == ["wheel"]]  # fmt: skip
    assert len(found) == 1, found
    stage, cmd = found[0]
    args = cmd[2:]
    assert "--no-deps" in args
    with_value = {"-w", "--wheel-dir", "-c", "--constraint", "--build", "--src"}
    forbidden = {"-r", "--requirement", "-i", "--index-url", "--extra-index-url", "-f"}
    positionals: list[str] = []
    it = iter(args)
    for word in it:
        assert word.split("=")[0] not in forbidden, f"pip wheel {word}: not from the repo"
        if word in with_value:
            next(it)
        elif not word.startswith("-"):
            positionals.append(word)
    # Only the local tree: a bare name like `opsreport` would come from a registry.
    assert positionals == ["."], positionals
    copied = [[w for w in shlex.split(c) if not w.startswith("--")] for c in stage.all("COPY")]
    assert any(words[0] == "." for words in copied), "the build stage never copies the repo"
    assert not stage.all("ADD")


def test_installed_wheel_is_the_built_one(stages: list[Stage]) -> None:
    installs = [
        c for s in stages[:-1] for c in _shell_commands(s) if "pip" in c[0] and "install" in c
    ]
    assert installs
    assert all(any(a.startswith("/dist/") and a.endswith(".whl") for a in c) for c in installs)


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", ".venv", ".cache", "tests"):
        assert required in patterns
