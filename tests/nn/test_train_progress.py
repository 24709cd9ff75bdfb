"""Training progress: plain lines (no carriage returns) where stderr is no terminal."""
import io

from hwgen.nn import train as train_module


def test_plain_lines_when_stderr_is_no_terminal(monkeypatch):
    stream = io.StringIO()                     # isatty() is False
    monkeypatch.setattr(train_module.sys, "stderr", stream)
    monkeypatch.setattr(train_module._EpochProgress, "EVERY", 0.0)
    bar = train_module._EpochProgress(3, "train bnn", True)
    for epoch, loss in enumerate((1.5, 1.0, 0.5)):
        bar.epoch_done(epoch, loss)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and len(lines) == 3
    assert lines[0].startswith("[hwgen] train bnn: epoch 1/3, loss 1.500, ")
    assert lines[-1].startswith("[hwgen] train bnn: epoch 3/3, loss 0.500, ")
    # At most one a EVERY seconds, and always the last epoch's.
    monkeypatch.setattr(train_module._EpochProgress, "EVERY", 3600.0)
    stream.seek(0)
    stream.truncate()
    bar = train_module._EpochProgress(3, "train bnn", True)
    for epoch in range(3):
        bar.epoch_done(epoch, 1.0)
    (only,) = stream.getvalue().splitlines()
    assert "epoch 3/3" in only
    # Disabled: nothing.
    stream.seek(0)
    stream.truncate()
    bar = train_module._EpochProgress(3, "train bnn", False)
    bar.epoch_done(2, 1.0)
    assert stream.getvalue() == ""
