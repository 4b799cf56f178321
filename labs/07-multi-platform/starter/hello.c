#include <stdio.h>

/* One program, built for two CPUs. It says which one it was compiled for. */
int main(void) {
#if defined(__aarch64__)
    puts("hello from arm64");
#elif defined(__x86_64__)
    puts("hello from amd64");
#else
    puts("hello from another CPU");
#endif
    return 0;
}
