#!/bin/sh
# Summarise an orders file whose lines read "item,quantity,unit price".
awk -F, 'NR > 1 { orders++; items += $2; total += $2 * $3 }
END { printf "orders: %d\nitems: %d\ntotal: %.2f EUR\n", orders, items, total }' "$1"
