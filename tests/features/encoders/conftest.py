"""What the encoder tests share: reading one encoded claim by output name."""
import pytest


def encode_first_row(encoder, frame) -> dict:
    """{output name: value} of the first row, after fitting on the frame."""
    out = encoder.fit(frame).transform(frame)
    return dict(zip(encoder.get_feature_names_out(), out[0]))


@pytest.fixture
def encode():
    return encode_first_row
