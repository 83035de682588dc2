"""CutMix and MixUp label mixing, with numbers worked out by hand; shifts and erasing against brute force."""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "training", "worker"))
from transforms import BatchMixUp, cutmix_box, cutmix_pair, erase_batch, mix_targets, one_hot, pasted_fraction, shift_batch  # noqa: E402


class CutMixTest(unittest.TestCase):
    def test_box_inside_the_image(self):
        # lam = 0.75 -> cut ratio sqrt(0.25) = 0.5 -> a 50 x 40 box on a 100 x 80 image, centred at (50, 40).
        self.assertEqual(cutmix_box(100, 80, 0.75, 50, 40), (25, 20, 75, 60))
        self.assertAlmostEqual(pasted_fraction((25, 20, 75, 60), 100, 80), 0.25)

    def test_box_clipped_at_the_corner_mixes_labels_by_the_true_area(self):
        # Centred at (95, 5): x from 70 to 100 (clipped from 120), y from 0 (clipped from -15) to 25.
        box = cutmix_box(100, 80, 0.75, 95, 5)
        self.assertEqual(box, (70, 0, 100, 25))
        # Pasted area 30 * 25 = 750 of 8000 -> 9.375%, not the nominal 25%.
        self.assertAlmostEqual(pasted_fraction(box, 100, 80), 750 / 8000)

    def test_height_uses_the_cut_height_not_the_centre(self):
        # The seed computed y2 from r_y; a tall thin image shows the difference.
        x1, y1, x2, y2 = cutmix_box(10, 100, 0.36, 5, 50)  # cut ratio 0.8 -> 8 x 80
        self.assertEqual((x2 - x1, y2 - y1), (8, 80))

    def test_pair_mixes_pixels_and_targets(self):
        a = torch.zeros(3, 80, 100)
        b = torch.ones(3, 80, 100)
        targets_a = one_hot([0, 2], [3, 4])
        targets_b = one_hot([1, 2], [3, 4])
        mixed, targets = cutmix_pair(a, targets_a, b, targets_b, 0.75, 95, 5)
        self.assertEqual(mixed.sum().item(), 3 * 750)
        self.assertEqual(mixed[:, 0:25, 70:100].min().item(), 1.0)
        kept = 1 - 750 / 8000
        self.assertTrue(torch.allclose(targets[0], torch.tensor([kept, 1 - kept, 0.0])))
        self.assertTrue(torch.allclose(targets[1], torch.tensor([0.0, 0.0, 1.0, 0.0])))
        for t in targets:
            self.assertAlmostEqual(t.sum().item(), 1.0, places=6)

    def test_mix_targets_weights(self):
        mixed = mix_targets([torch.tensor([1.0, 0.0])], [torch.tensor([0.0, 1.0])], 0.3)
        self.assertTrue(torch.allclose(mixed[0], torch.tensor([0.3, 0.7])))


class MixUpTest(unittest.TestCase):
    def test_blends_pixels_and_targets_by_the_same_weight(self):
        images = torch.rand(6, 3, 4, 4)
        targets = [torch.stack([one_hot([k % 3], [3])[0] for k in range(6)]), torch.stack([one_hot([k % 2], [2])[0] for k in range(6)])]
        torch.manual_seed(0)
        mixed, mixed_targets = BatchMixUp(alpha=0.4, p=1.0, generator=torch.Generator().manual_seed(5))(images, targets)
        # The same draws by hand: the weight from the global generator, the coin then the partner order from the batch's.
        torch.manual_seed(0)
        lam = float(torch.distributions.Beta(0.4, 0.4).sample())
        draws = torch.Generator().manual_seed(5)
        torch.rand(1, generator=draws)
        order = torch.randperm(6, generator=draws)
        self.assertFalse(torch.equal(order, torch.arange(6)))
        for i in range(6):
            j = int(order[i])
            self.assertTrue(torch.allclose(mixed[i], lam * images[i] + (1 - lam) * images[j], atol=1e-6))
            # Daily-like task of 3 classes: image i's class keeps lam, its partner's gets 1 - lam (both when equal).
            expected = torch.zeros(3)
            expected[i % 3] += lam
            expected[j % 3] += 1 - lam
            self.assertTrue(torch.allclose(mixed_targets[0][i], expected, atol=1e-6))
            self.assertAlmostEqual(float(mixed_targets[1][i].sum()), 1.0, places=6)

    def test_probability_zero_leaves_the_batch_alone(self):
        images = torch.rand(4, 3, 2, 2)
        targets = [torch.eye(4)]
        mixed, mixed_targets = BatchMixUp(alpha=0.4, p=0.0, generator=torch.Generator().manual_seed(1))(images, targets)
        self.assertIs(mixed, images)
        self.assertIs(mixed_targets, targets)


class ShiftTest(unittest.TestCase):
    def test_moves_each_image_by_its_offset_and_fills_with_the_letterbox_colour(self):
        images = torch.randn(6, 3, 9, 7)
        fill = torch.tensor([1.5, -2.0, 0.25])
        shifted = shift_batch(images, 3, fill, torch.Generator().manual_seed(5))
        offsets = torch.randint(-3, 4, (6, 2), generator=torch.Generator().manual_seed(5)).tolist()
        self.assertTrue(any(o != [0, 0] for o in offsets))
        for i, (dy, dx) in enumerate(offsets):
            for c in range(3):
                for y in range(9):
                    for x in range(7):
                        sy, sx = y - dy, x - dx
                        expected = images[i, c, sy, sx] if 0 <= sy < 9 and 0 <= sx < 7 else fill[c]
                        self.assertEqual(shifted[i, c, y, x].item(), expected.item(), (i, c, y, x))

    def test_no_shift_below_one_pixel(self):
        images = torch.randn(2, 3, 4, 4)
        self.assertIs(shift_batch(images, 0, torch.zeros(3), torch.Generator()), images)


class ErasingTest(unittest.TestCase):
    def test_erases_one_rectangle_of_the_allowed_area_in_the_chosen_images(self):
        images = torch.rand(400, 3, 32, 32) + 1.0  # no pixel is 0 before erasing
        erased = erase_batch(images, 0.5, torch.Generator().manual_seed(2))
        counts = 0
        for before, after in zip(images, erased):
            zero = (after == 0).all(0)
            if not zero.any():
                self.assertTrue(torch.equal(before, after))
                continue
            counts += 1
            rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
            h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
            self.assertEqual(int(zero.sum()), int(h * w))  # one filled rectangle
            self.assertGreaterEqual(int(h * w), round(0.02 * 1024 * 0.6))
            self.assertLessEqual(int(h * w), round(0.33 * 1024 * 1.2))
            self.assertTrue(torch.equal(before[:, ~zero], after[:, ~zero]))
        self.assertTrue(150 < counts < 250, counts)

    def test_probability_zero_leaves_the_batch_alone(self):
        images = torch.rand(8, 3, 8, 8)
        self.assertIs(erase_batch(images, 0.0, torch.Generator()), images)


if __name__ == "__main__":
    unittest.main()
