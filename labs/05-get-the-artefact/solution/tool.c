#include <stdio.h>

/* A command-line tool we want as a file on the host, not inside an image. */
int main(int argc, char **argv) {
    printf("tool 1.0: %d argument(s)\n", argc - 1);
    for (int i = 1; i < argc; i++) {
        printf("  %s\n", argv[i]);
    }
    return 0;
}
