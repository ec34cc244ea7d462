"""Ports picked for another process to listen on stay clear of outgoing connections."""

from __future__ import annotations

import socket

from safezone.demo.boxes import _ephemeral_ports, free_port, port_free, preferred_port


def test_free_ports_lie_below_the_ephemeral_range_and_can_be_bound() -> None:
    low, _ = _ephemeral_ports()
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1, "the same port every time: a second picker would collide"
    for port in ports:
        assert port < low
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen()


def test_a_taken_port_is_not_offered() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert not port_free("127.0.0.1", taken)
        assert preferred_port("127.0.0.1", taken) != taken
