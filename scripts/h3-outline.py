#!/usr/bin/env python3
"""How many respondents a coarser hexagon counts from just outside its outline (PRIVACY.md,
"How a hexagon counts its people"): a record counts in the ancestors of its resolution-9
cell, which differ from the cell that contains its point at that resolution near edges.

Usage: dyaspora demo --records 200000 --seed 1 --csv demo.csv
       .venv/bin/python scripts/h3-outline.py demo.csv
"""

import csv
import sys

import h3


def main(path: str) -> None:
    with open(path, newline="", encoding="utf-8") as f:
        points = [
            (float(r["_location_latitude"]), float(r["_location_longitude"]))
            for r in csv.DictReader(f, delimiter=";")
        ]
    finest = [h3.latlng_to_cell(lat, lng, 9) for lat, lng in points]
    print("resolution,respondents,in_a_neighbour,share")
    for res in range(2, 9):
        moved = sum(
            h3.cell_to_parent(cell, res) != h3.latlng_to_cell(lat, lng, res)
            for (lat, lng), cell in zip(points, finest)
        )
        print(f"{res},{len(points)},{moved},{100 * moved / len(points):.2f}%")


if __name__ == "__main__":
    main(sys.argv[1])
