"""Tests for greet.py: `python -m unittest discover -s tests` runs them."""

import unittest

from greet import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(greet("Ada"), "Hello, Ada!")

    def test_keeps_the_name_as_written(self):
        self.assertEqual(greet("grace hopper"), "Hello, grace hopper!")


if __name__ == "__main__":
    unittest.main()
