"""Kubernetes-shaped names and ids for the simulated fleet, deterministic from the seed.

- ReplicaSet ``<deployment>-<hash>``: the hash is 10 characters of Kubernetes' safe alphabet
  derived from (deployment, image) only, so rolling back to an old image reuses the old name;
- pod ``<replicaset>-<5 characters>``, container ids, pod uids and GPU UUIDs come from a
  seeded random stream, so the same seed and the same calls give the same names;
- node and pod IPs follow the node's number (``10.0.0.N`` and ``10.244.N.M``).
"""

from __future__ import annotations

import hashlib
import random
import uuid

from simulator.catalog import IMAGE_REPOSITORY

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes)."""


def image_of(model: str, version: str) -> str:
    """The vLLM container image of a model version: the version is the image tag."""
    return f"{IMAGE_REPOSITORY}/{model}:{version}"


def image_id_of(image: str) -> str:
    """The image's content digest, as kube-state-metrics reports it in ``image_id``."""
    repository = image.rsplit(":", 1)[0]
    digest = hashlib.sha256(f"image|{image}".encode()).hexdigest()
    return f"{repository}@sha256:{digest}"


def replicaset_name(deployment: str, image: str) -> str:
    """``<deployment>-<10-char hash of (deployment, image)>``: stable across rollbacks."""
    number = int.from_bytes(hashlib.sha256(f"{deployment}|{image}".encode()).digest()[:8])
    return f"{deployment}-{_encode(number, 10)}"


def _encode(number: int, length: int) -> str:
    characters = []
    for _ in range(length):
        number, digit = divmod(number, len(SAFE_ALPHABET))
        characters.append(SAFE_ALPHABET[digit])
    return "".join(characters)


def node_name(number: int) -> str:
    return f"gpu-node-{number:02d}"


def node_ip(number: int) -> str:
    return f"10.0.{number // 250}.{number % 250 + 1}"


class Identities:
    """A seeded source of pod suffixes, uids, container ids, GPU UUIDs and pod IPs."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"fleet-identities-{seed}")
        self._used_pods: set[str] = set()
        self._next_pod_ip: dict[int, int] = {}

    def pod_name(self, replicaset: str) -> str:
        """A new pod name under ``replicaset``, never handed out before."""
        while True:
            suffix = "".join(self._random.choice(SAFE_ALPHABET) for _ in range(5))
            name = f"{replicaset}-{suffix}"
            if name not in self._used_pods:
                self._used_pods.add(name)
                return name

    def uid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def gpu_uuid(self) -> str:
        return f"GPU-{uuid.UUID(int=self._random.getrandbits(128))}"

    def container_id(self) -> str:
        return f"containerd://{self._random.getrandbits(256):064x}"

    def pod_ip(self, node_number: int) -> str:
        """The next address of the node's pod CIDR ``10.244.<node>.0/24``."""
        host = self._next_pod_ip.get(node_number, 2)
        self._next_pod_ip[node_number] = host % 250 + 2
        return f"10.244.{node_number}.{host}"
