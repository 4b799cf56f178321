FROM busybox:1.36 AS ok
RUN echo fine 1795977725082043603 > /ok
FROM busybox:1.36 AS broken
RUN echo about to fail 1795977725082043603 && exit 3
FROM busybox:1.36
COPY --from=ok /ok /ok
COPY --from=broken /etc/passwd /p
