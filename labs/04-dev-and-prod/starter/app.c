#include <stdio.h>

/* Add up 1..10 and say so; the check compares this output in both images. */
int main(void) {
    int sum = 0;
    for (int n = 1; n <= 10; n++) {
        sum += n;
    }
    printf("sum of 1..10 = %d\n", sum);
    return 0;
}
