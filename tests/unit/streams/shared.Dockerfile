FROM busybox:1.36 AS one
RUN echo same 1795977725082043603 > /same
FROM busybox:1.36 AS two
RUN echo same 1795977725082043603 > /same
FROM busybox:1.36 AS final
COPY --from=one /same /one
COPY --from=two /same /two
