FROM busybox:1.36 AS slow
RUN echo 1795977725082043603 && sleep 60
