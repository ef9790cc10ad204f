"""dlcourse.pytorch.augment against the transforms computed image by image with plain indexing."""

import pytest
import torch

from dlcourse.pytorch.augment import AugmentedBatches, augmenter, random_erasing, random_flip, random_shift


def batch(b=6, c=2, h=5, w=7, seed=0):
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed)) + 1  # no zeros: fill shows


def test_shift_is_a_padded_crop_at_the_drawn_offsets():
    x, s = batch(), 2
    out = random_shift(x, torch.Generator().manual_seed(3), max_shift=s, fill=-1.0)
    dy, dx = torch.randint(0, 2 * s + 1, (2, len(x)), generator=torch.Generator().manual_seed(3))
    for b in range(len(x)):  # one image at a time, by slicing a padded canvas
        canvas = torch.full((x.shape[1], x.shape[2] + 2 * s, x.shape[3] + 2 * s), -1.0)
        canvas[:, s:-s, s:-s] = x[b]
        expected = canvas[:, dy[b]:dy[b] + x.shape[2], dx[b]:dx[b] + x.shape[3]]
        torch.testing.assert_close(out[b], expected, rtol=0, atol=0)
    assert out.shape == x.shape


def test_shift_moves_content_and_keeps_every_offset_possible():
    x = torch.zeros(400, 1, 5, 5)
    x[:, :, 2, 2] = 1.0  # one bright pixel in the centre
    out = random_shift(x, torch.Generator().manual_seed(0), max_shift=1)
    where = out[:, 0].flatten(1).argmax(1)
    rows, cols = where // 5, where % 5
    assert set(rows.tolist()) == {1, 2, 3} and set(cols.tolist()) == {1, 2, 3}
    assert torch.equal(out.sum((1, 2, 3)), torch.ones(400))  # a move of one pixel keeps it inside
    torch.testing.assert_close(random_shift(x, torch.Generator(), max_shift=0), x)


def test_flip_mirrors_the_chosen_images_only():
    x = batch(b=200)
    out = random_flip(x, torch.Generator().manual_seed(5), p=0.5)
    chosen = torch.rand(200, generator=torch.Generator().manual_seed(5)) < 0.5
    for b in range(200):
        expected = x[b][:, :, list(range(x.shape[3] - 1, -1, -1))] if chosen[b] else x[b]
        torch.testing.assert_close(out[b], expected, rtol=0, atol=0)
    assert 70 < int(chosen.sum()) < 130
    torch.testing.assert_close(random_flip(x, torch.Generator(), p=0.0), x)


def test_erasing_blanks_one_square_of_the_drawn_size():
    x = batch(b=300, h=8, w=9)
    out = random_erasing(x, torch.Generator().manual_seed(1), size=3, p=0.5, fill=0.0)
    blank = (out == 0).all(1)  # (B, H, W): pixels erased in every channel
    counts = blank.flatten(1).sum(1)
    assert set(counts.tolist()) <= {0, 9}
    assert 100 < int((counts == 9).sum()) < 200
    for b in torch.nonzero(counts == 9).flatten().tolist():
        r, c = torch.nonzero(blank[b], as_tuple=True)
        assert r.max() - r.min() == 2 and c.max() - c.min() == 2  # a 3x3 square
    untouched = ~blank[:, None].expand_as(x)
    torch.testing.assert_close(out[untouched], x[untouched])


def test_augmenter_is_reproducible_and_keeps_shapes():
    x = batch()
    first = augmenter(shift=1, flip=0.5, erase=2, seed=4)
    second = augmenter(shift=1, flip=0.5, erase=2, seed=4)
    a1, a2 = first(x), first(x)
    torch.testing.assert_close(a1, second(x))
    torch.testing.assert_close(a2, second(x))
    assert a1.shape == x.shape and not torch.equal(a1, a2)  # each call draws anew
    torch.testing.assert_close(augmenter()(x), x)


def test_bad_inputs_say_what_is_wrong():
    g = torch.Generator()
    with pytest.raises(ValueError, match=r"batch of images \(B, C, H, W\)"):
        random_shift(torch.zeros(3, 5, 5), g)
    with pytest.raises(ValueError, match="max_shift must be"):
        random_shift(torch.zeros(1, 1, 5, 5), g, max_shift=-1)
    with pytest.raises(ValueError, match="p must be a probability"):
        random_flip(torch.zeros(1, 1, 5, 5), g, p=1.5)
    with pytest.raises(ValueError, match="size must be between 1 and"):
        random_erasing(torch.zeros(1, 1, 5, 5), g, size=6)
    with pytest.raises(ValueError, match="shift and erase must be"):
        augmenter(shift=-2)


def test_augmented_batches_transform_every_batch_afresh_each_epoch():
    batches = [(batch(b=2, seed=s), torch.tensor([s, s])) for s in range(3)]
    calls = []

    def augment(x):
        calls.append(x)
        return -x

    wrapped = AugmentedBatches(batches, augment)
    assert len(wrapped) == 3
    for _ in range(2):  # two epochs: the transform runs again on every batch
        for (x, y), (x0, y0) in zip(wrapped, batches, strict=True):
            assert torch.equal(x, -x0) and torch.equal(y, y0)
    assert len(calls) == 6
